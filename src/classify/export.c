/* export.c - CSV and JSONL lines of the predictions (export.h). */
#include "classify/export.h"

#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "classify/combine.h"

/* Copies a fixed-size catalog string into a NUL-terminated buffer. */
static const char *fixed(const char *base, int64_t i, size_t stride, char *buf) {
    memcpy(buf, base + (size_t)i * stride, stride);
    buf[stride] = '\0';
    return buf;
}

void export_csv_str(struct sbuf *b, const char *s) {
    sb_printf(b, "\"");
    for (const char *p = s; *p; p++) {
        const char *q = strchr(p, '"');
        size_t run = q ? (size_t)(q - p) : strlen(p);
        if (run) sb_printf(b, "%.*s", (int)run, p);
        if (!q) break;
        sb_printf(b, "\"\"");
        p = q;
    }
    sb_printf(b, "\"");
}

void export_flag_names(uint8_t flags, char *out, int out_bytes) {
    static const char *names[] = {"needs_review", "suspected_mislabel", "duplicate", "not_classified"};
    int used = 0;
    out[0] = '\0';
    for (int b = 0; b < 4; b++)
        if (flags & (1u << b))
            used += snprintf(out + used, used < out_bytes ? (size_t)(out_bytes - used) : 0, "%s%s",
                             used ? "|" : "", names[b]);
}

void export_csv_header(const struct export_view *v, struct sbuf *csv) {
    sb_printf(csv, "id,name,group_id,group_size");
    for (int l = 0; l < v->n_levels; l++) {
        const char *n = v->lv[l].level;
        sb_printf(csv, ",%s_label,%s_pred,%s_confidence,%s_flags,%s_top2,%s_top2_score,%s_top3,"
                  "%s_top3_score", n, n, n, n, n, n, n, n);
    }
    for (int j = 1; j <= EXPORT_NEIGHBOURS; j++)
        sb_printf(csv, ",nb%d_id,nb%d_name,nb%d_image_score,nb%d_name_score,nb%d_fused_score", j, j,
                  j, j, j);
    sb_printf(csv, "\n");
}

/* Class name of head class c, or "" for -1. */
static const char *head_class(const struct export_level *e, int32_t c, char *buf) {
    if (c < 0 || c >= e->classes_count) return "";
    return fixed(e->classes, c, CATALOG_CLASS_BYTES, buf);
}

void export_rows(const struct export_view *v, struct sbuf *csv, struct sbuf *js) {
    char id[CATALOG_ID_BYTES + 1], name[CATALOG_NAME_BYTES + 1], cls[CATALOG_CLASS_BYTES + 1];
    char fl[96];
    for (int64_t i = 0; i < v->row_count; i++) {
        int64_t r = v->row_begin + i;
        if (v->status && v->status[r] == PRODUCT_REMOVED) continue;
        fixed(v->ids, r, CATALOG_ID_BYTES, id);
        fixed(v->names, r, CATALOG_NAME_BYTES, name);
        long long gid = v->group_id ? (long long)v->group_id[r] : r;
        long long gsz = v->group_size ? (long long)v->group_size[r] : 1;
        export_csv_str(csv, id);
        sb_printf(csv, ",");
        export_csv_str(csv, name);
        sb_printf(csv, ",%lld,%lld", gid, gsz);
        sb_printf(js, "{\"row\":%lld,\"id\":", (long long)r);
        sb_json_str(js, id);
        sb_printf(js, ",\"name\":");
        sb_json_str(js, name);
        sb_printf(js, ",\"group_id\":%lld,\"group_size\":%lld,\"levels\":{", gid, gsz);
        for (int l = 0; l < v->n_levels; l++) {
            const struct export_level *e = &v->lv[l];
            int32_t lab = v->labels[(size_t)r * v->n_label_levels + e->level_index];
            const char *lab_s = lab >= 0 && lab < e->orig_count
                                    ? fixed(e->orig, lab, CATALOG_CLASS_BYTES, cls) : "";
            char lab_copy[CATALOG_CLASS_BYTES + 1];
            snprintf(lab_copy, sizeof lab_copy, "%s", lab_s);
            export_flag_names(e->flags[i], fl, sizeof fl);
            sb_printf(csv, ",");
            export_csv_str(csv, lab_copy);
            sb_printf(csv, ",");
            export_csv_str(csv, head_class(e, e->pred[i], cls));
            sb_printf(csv, ",%.6f,", e->pred[i] >= 0 ? e->conf[i] : 0.0);
            export_csv_str(csv, fl);
            for (int j = 1; j < CLASSIFY_TOPK; j++) {
                sb_printf(csv, ",");
                export_csv_str(csv, head_class(e, e->top3[i * CLASSIFY_TOPK + j], cls));
                sb_printf(csv, ",%.6f", e->top3[i * CLASSIFY_TOPK + j] >= 0
                                            ? e->top3_score[i * CLASSIFY_TOPK + j] : 0.0);
            }
            sb_printf(js, "%s", l ? "," : "");
            sb_json_str(js, e->level);
            sb_printf(js, ":{\"label\":");
            if (lab_copy[0]) sb_json_str(js, lab_copy);
            else sb_printf(js, "null");
            sb_printf(js, ",\"pred\":");
            if (e->pred[i] >= 0) sb_json_str(js, head_class(e, e->pred[i], cls));
            else sb_printf(js, "null");
            sb_printf(js, ",\"confidence\":");
            if (e->pred[i] >= 0) sb_printf(js, "%.6f", e->conf[i]);
            else sb_printf(js, "null");
            sb_printf(js, ",\"flags\":[");
            for (int b = 0, first = 1; b < 4; b++) {
                if (!(e->flags[i] & (1u << b))) continue;
                char one[40];
                export_flag_names((uint8_t)(1u << b), one, sizeof one);
                sb_printf(js, "%s\"%s\"", first ? "" : ",", one);
                first = 0;
            }
            sb_printf(js, "],\"top3\":[");
            for (int j = 0, first = 1; j < CLASSIFY_TOPK; j++) {
                int32_t t = e->top3[i * CLASSIFY_TOPK + j];
                if (t < 0 || e->pred[i] < 0) continue;
                sb_printf(js, "%s{\"class\":", first ? "" : ",");
                sb_json_str(js, head_class(e, t, cls));
                sb_printf(js, ",\"score\":%.6f}", e->top3_score[i * CLASSIFY_TOPK + j]);
                first = 0;
            }
            sb_printf(js, "]}");
        }
        sb_printf(js, "},\"neighbours\":[");
        for (int j = 0, shown = 0; j < EXPORT_NEIGHBOURS; j++) {
            int64_t nb = v->nb && j < v->k ? v->nb[(size_t)r * v->k + j] : -1;
            if (nb < 0) {
                sb_printf(csv, ",\"\",\"\",,,");
                continue;
            }
            size_t o = (size_t)r * v->k + j;
            char nid[CATALOG_ID_BYTES + 1], nname[CATALOG_NAME_BYTES + 1];
            fixed(v->ids, nb, CATALOG_ID_BYTES, nid);
            fixed(v->names, nb, CATALOG_NAME_BYTES, nname);
            sb_printf(csv, ",");
            export_csv_str(csv, nid);
            sb_printf(csv, ",");
            export_csv_str(csv, nname);
            sb_printf(csv, ",%.6f,%.6f,%.6f", v->s_img[o], v->s_name[o], v->s_fused[o]);
            sb_printf(js, "%s{\"row\":%lld,\"id\":", shown ? "," : "", (long long)nb);
            sb_json_str(js, nid);
            sb_printf(js, ",\"name\":");
            sb_json_str(js, nname);
            sb_printf(js, ",\"image_score\":");
            sb_json_num(js, v->s_img[o]);
            sb_printf(js, ",\"name_score\":");
            sb_json_num(js, v->s_name[o]);
            sb_printf(js, ",\"fused_score\":");
            sb_json_num(js, v->s_fused[o]);
            sb_printf(js, "}");
            shown++;
        }
        sb_printf(csv, "\n");
        sb_printf(js, "]}\n");
    }
}
