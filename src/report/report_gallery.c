/* report_gallery.c - the report's product sections: nearest-neighbour
 * gallery and near-duplicate groups (/similarity/<run>), the review queue
 * (/predictions/<run>) and nightly runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_priv.h"
#include "util/check.h"

#define NEIGHBOURS_SHOWN 6
#define GROUPS_SHOWN 12
#define GROUP_MEMBERS_SHOWN 8

static int read_ds(struct catalog *c, const char *grp, const char *name, hid_t t, void **buf,
                   int64_t *rows) {
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", grp, name);
    return catalog_read_all(c, p, t, buf, rows);
}

/* Product cell: thumbnail, escaped name, optional score line (raw markup). */
static int item(struct report_ctx *x, int64_t row, const char *cls, const char *score_html) {
    int rc = ST_OK;
    char name[CATALOG_NAME_BYTES + 1];
    report_product_name(x, row, name, sizeof name);
    hb_printf(x->b, "<div class=\"item%s%s\" data-row=\"%lld\">", *cls ? " " : "", cls, (long long)row);
    TRY(report_thumb(x, row));
    hb_puts(x->b, "<span class=\"nm\">");
    hb_text(x->b, name);
    hb_puts(x->b, "</span>");
    if (score_html) hb_puts(x->b, score_html);
    hb_puts(x->b, "</div>");
fail:
    return rc;
}

int report_section_neighbours(struct report_ctx *x, const struct run_info *sim) {
    int rc = ST_OK;
    struct hbuf *b = x->b;
    int64_t *q = NULL, *nb = NULL, nq = 0, k = 0;
    float *si = NULL, *sn = NULL, *sf = NULL;
    char grp[300];
    hb_puts(b, "<section id=\"neighbours\"><h2>Nearest neighbours</h2><p class=\"note\">Each row: a "
               "query product, then its neighbours by fused score <code>w_img &#183; image cosine + "
               "w_name &#183; name TF-IDF cosine</code> (scores shown as fused (image / name)).</p>");
    snprintf(grp, sizeof grp, "/similarity/%s", sim ? sim->id : "");
    if (!sim || !catalog_exists(x->c, grp) || catalog_is_complete(x->c, grp) != 1) {
        report_missing(x, "Similarity results", "run `assort similarity`");
        goto done;
    }
    double wi = NAN, wn = NAN;
    catalog_get_attr_f64(x->c, grp, "w_img", &wi);
    catalog_get_attr_f64(x->c, grp, "w_name", &wn);
    TRY(catalog_get_attr_i64(x->c, grp, "k", &k));
    TRY(read_ds(x->c, grp, "query_rows", H5T_NATIVE_INT64, (void **)&q, &nq));
    TRY(read_ds(x->c, grp, "neighbours", H5T_NATIVE_INT64, (void **)&nb, NULL));
    TRY(read_ds(x->c, grp, "score_image", H5T_NATIVE_FLOAT, (void **)&si, NULL));
    TRY(read_ds(x->c, grp, "score_name", H5T_NATIVE_FLOAT, (void **)&sn, NULL));
    TRY(read_ds(x->c, grp, "score_fused", H5T_NATIVE_FLOAT, (void **)&sf, NULL));
    hb_puts(b, "<p class=\"note\">Run <code>");
    hb_text(b, sim->id);
    hb_printf(b, "</code>: %lld queries, k = %lld, w_img = %.2f, w_name = %.2f. Rows are spread evenly "
                 "over the queries.</p><div class=\"gal\" data-run=\"", (long long)nq, (long long)k, wi, wn);
    hb_attr(b, sim->id);
    hb_puts(b, "\">");
    int rows = x->o->gallery_rows;
    if (rows > nq) rows = (int)nq;
    for (int r = 0; r < rows; r++) {
        int64_t qi = (int64_t)((double)r * (double)nq / rows);
        hb_printf(b, "<div class=\"grow\" data-query=\"%lld\">", (long long)q[qi]);
        TRY(item(x, q[qi], "q", "<span class=\"sc\">query</span>"));
        for (int j = 0; j < k && j < NEIGHBOURS_SHOWN; j++) {
            size_t o = (size_t)qi * (size_t)k + (size_t)j;
            if (nb[o] < 0) break;
            char sc[200];
            snprintf(sc, sizeof sc, "<span class=\"sc\" data-fused=\"%.9g\">%.3f (%.2f / %.2f)</span>",
                     sf[o], sf[o], si[o], sn[o]);
            TRY(item(x, nb[o], "", sc));
        }
        hb_puts(b, "</div>");
    }
    hb_puts(b, "</div>");
done:
    hb_puts(b, "</section>");
fail:
    free(q), free(nb), free(si), free(sn), free(sf);
    return rc;
}

struct group {
    int64_t id, size;
};

static int group_cmp(const void *a, const void *b) {
    const struct group *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int report_section_duplicates(struct report_ctx *x, const struct run_info *sim) {
    int rc = ST_OK;
    struct hbuf *b = x->b;
    int64_t *gid = NULL, *gsz = NULL, n = 0, ng = 0, in_groups = 0;
    struct group *g = NULL;
    char grp[300];
    hb_puts(b, "<section id=\"duplicates\"><h2>Near-duplicate groups</h2><p class=\"note\">Products "
               "linked by a fused score at or above <code>similarity.duplicate_threshold</code>, joined "
               "transitively (union-find). Largest groups first.</p>");
    snprintf(grp, sizeof grp, "/similarity/%s", sim ? sim->id : "");
    if (!sim || !catalog_exists(x->c, grp) || catalog_is_complete(x->c, grp) != 1) {
        report_missing(x, "Near-duplicate groups", "run `assort similarity`");
        goto done;
    }
    double thr = NAN;
    catalog_get_attr_f64(x->c, grp, "duplicate_threshold", &thr);
    TRY(read_ds(x->c, grp, "group_id", H5T_NATIVE_INT64, (void **)&gid, &n));
    TRY(read_ds(x->c, grp, "group_size", H5T_NATIVE_INT64, (void **)&gsz, NULL));
    TRY_ALLOC(g = malloc(((size_t)n + 1) * sizeof *g));
    for (int64_t i = 0; i < n; i++) {
        if (gsz[i] >= 2) in_groups++;
        if (gsz[i] >= 2 && gid[i] == i) g[ng++] = (struct group){i, gsz[i]};
    }
    qsort(g, (size_t)ng, sizeof *g, group_cmp);
    hb_printf(b, "<p class=\"note\" id=\"dup-count\" data-groups=\"%lld\" data-products=\"%lld\">%lld "
                 "groups holding %lld products (threshold %.2f).</p>",
              (long long)ng, (long long)in_groups, (long long)ng, (long long)in_groups, thr);
    if (!ng) hb_puts(b, "<p class=\"na\">No near-duplicates at this threshold.</p>");
    hb_puts(b, "<div class=\"groups\">");
    for (int64_t k = 0; k < ng && k < GROUPS_SHOWN; k++) {
        hb_printf(b, "<div class=\"group\" data-group=\"%lld\" data-size=\"%lld\"><span class=\"tag\">"
                     "%lld products</span><div class=\"members\">",
                  (long long)g[k].id, (long long)g[k].size, (long long)g[k].size);
        int shown = 0;
        for (int64_t i = g[k].id; i < n && shown < GROUP_MEMBERS_SHOWN; i++)
            if (gid[i] == g[k].id) {
                TRY(item(x, i, "", NULL));
                shown++;
            }
        if (g[k].size > shown)
            hb_printf(b, "<span class=\"tag\">+%lld more</span>", (long long)(g[k].size - shown));
        hb_puts(b, "</div></div>");
    }
    hb_puts(b, "</div>");
done:
    hb_puts(b, "</section>");
fail:
    free(gid), free(gsz), free(g);
    return rc;
}

struct conf_row {
    float conf;
    int64_t row;
};

static int conf_cmp(const void *a, const void *b) {
    const struct conf_row *x = a, *y = b;
    if (x->conf != y->conf) return x->conf < y->conf ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Review queue from the newest complete /predictions/<run>: per level the
 * products with the lowest confidence, predicted vs current label. Layout
 * read: /predictions/<run>/<level>/{pred int32 (N), confidence float32 (N),
 * flags uint8 (N, optional: 1 needs review, 2 suspected mislabel)}. */
int report_section_review(struct report_ctx *x) {
    int rc = ST_OK;
    struct hbuf *b = x->b;
    char **runs = NULL, **lv = NULL;
    int nr = 0, nl = 0;
    int32_t *pred = NULL;
    float *conf = NULL;
    uint8_t *flags = NULL;
    struct conf_row *cr = NULL;
    hb_puts(b, "<section id=\"review\"><h2>Review queue</h2><p class=\"note\">The products the "
               "classifier is least sure about (lowest calibrated confidence), with the predicted and "
               "the current label; suspected mislabels are tagged.</p>");
    char grp[400] = "";
    if (catalog_exists(x->c, "/predictions")) TRY(catalog_list(x->c, "/predictions", &runs, &nr));
    for (int i = nr - 1; i >= 0 && !grp[0]; i--) {
        snprintf(grp, sizeof grp, "/predictions/%s", runs[i]);
        if (catalog_is_complete(x->c, grp) != 1) grp[0] = '\0';
    }
    if (!grp[0]) {
        report_missing(x, "Predictions", "run `assort classify`");
        goto done;
    }
    TRY(catalog_list(x->c, grp, &lv, &nl));
    int any = 0;
    for (int l = 0; l < nl; l++) {
        char sub[600], p[700];
        snprintf(sub, sizeof sub, "%s/%s", grp, lv[l]);
        snprintf(p, sizeof p, "%s/confidence", sub);
        int li = -1;
        for (int k = 0; k < x->n_levels; k++)
            if (!strcmp(x->levels[k], lv[l])) li = k;
        if (!catalog_exists(x->c, p) || li < 0) continue;
        int64_t n = 0;
        free(pred), free(conf), free(flags), free(cr);
        pred = NULL, conf = NULL, flags = NULL, cr = NULL;
        TRY(read_ds(x->c, sub, "confidence", H5T_NATIVE_FLOAT, (void **)&conf, &n));
        TRY(read_ds(x->c, sub, "pred", H5T_NATIVE_INT32, (void **)&pred, NULL));
        snprintf(p, sizeof p, "%s/flags", sub);
        if (catalog_exists(x->c, p)) TRY(read_ds(x->c, sub, "flags", H5T_NATIVE_UINT8, (void **)&flags, NULL));
        TRY_ALLOC(cr = malloc(((size_t)n + 1) * sizeof *cr));
        int64_t m = 0;
        for (int64_t i = 0; i < n && i < x->n; i++)
            if (pred[i] >= 0 && isfinite(conf[i]) && (!x->status || x->status[i] == PRODUCT_ACTIVE))
                cr[m++] = (struct conf_row){conf[i], i};
        qsort(cr, (size_t)m, sizeof *cr, conf_cmp);
        any = 1;
        hb_puts(b, "<h3>Level <code>");
        hb_text(b, lv[l]);
        hb_printf(b, "</code></h3><table class=\"sortable review\"><thead><tr><th>product</th><th>name</th>"
                     "<th>predicted</th><th>current label</th><th class=\"n\">confidence</th><th>flags</th>"
                     "</tr></thead><tbody>");
        for (int64_t j = 0; j < m && j < x->o->review_rows; j++) {
            int64_t i = cr[j].row;
            char name[CATALOG_NAME_BYTES + 1];
            report_product_name(x, i, name, sizeof name);
            int32_t cur = x->labels ? x->labels[i * x->n_levels + li] : -1;
            hb_printf(b, "<tr data-row=\"%lld\"><td>", (long long)i);
            TRY(report_thumb(x, i));
            hb_puts(b, "</td><td>");
            hb_text(b, name);
            hb_puts(b, "</td><td>");
            hb_text(b, report_class_name(x, li, pred[i]));
            hb_puts(b, "</td><td>");
            hb_text(b, cur >= 0 ? report_class_name(x, li, cur) : "(unlabelled)");
            hb_puts(b, "</td><td class=\"n\" data-value=\"");
            hb_num(b, cr[j].conf);
            hb_printf(b, "\">%.3f</td><td>", cr[j].conf);
            if (flags && (flags[i] & 2)) hb_puts(b, "<span class=\"tag bad\">suspected mislabel</span> ");
            if (flags && (flags[i] & 1)) hb_puts(b, "<span class=\"tag\">needs review</span>");
            if (cur >= 0 && cur == pred[i]) hb_puts(b, " <span class=\"tag ok\">agrees</span>");
            hb_puts(b, "</td></tr>");
        }
        hb_puts(b, "</tbody></table>");
    }
    if (!any) report_missing(x, "Per-level predictions with confidences", "run `assort classify`");
done:
    hb_puts(b, "</section>");
fail:
    catalog_list_free(runs, nr);
    catalog_list_free(lv, nl);
    free(pred), free(conf), free(flags), free(cr);
    return rc;
}

struct bar_list {
    int n;
    char keys[40][160];
    double vals[40];
};

static int collect_bar(const char *key, const struct json *leaf, void *ctx) {
    struct bar_list *l = ctx;
    if (leaf->type != JSON_NUMBER || l->n >= 40) return 0;
    snprintf(l->keys[l->n], sizeof l->keys[l->n], "%s", key);
    l->vals[l->n++] = leaf->number;
    return 0;
}

/* Nightly runs: their metrics as charts (the nightly command records diff
 * counts and drift statistics in its metrics JSON). */
int report_section_nightly(struct report_ctx *x) {
    struct hbuf *b = x->b;
    hb_puts(b, "<section id=\"nightly\"><h2>Nightly runs: diff and drift</h2>");
    const struct run_info *r = runs_latest(x->runs, x->n_runs, "nightly");
    if (!r || !r->metrics) {
        report_missing(x, "Nightly runs", "run `assort nightly`");
        hb_puts(b, "</section>");
        return ST_OK;
    }
    static struct bar_list diff, drift;
    diff.n = drift.n = 0;
    const struct json *d = json_get(r->metrics, "diff"), *dr = json_get(r->metrics, "drift");
    if (d) json_flatten(d, collect_bar, &diff);
    if (dr) json_flatten(dr, collect_bar, &drift);
    if (!d && !dr) json_flatten(r->metrics, collect_bar, &diff);
    const char *labels[40];
    hb_puts(b, "<p class=\"note\">Run <code>");
    hb_text(b, r->id);
    hb_puts(b, "</code>.</p><div class=\"charts\">");
    for (int i = 0; i < diff.n; i++) labels[i] = diff.keys[i];
    if (diff.n) svg_bars(b, "nightly-diff", "Catalog diff", labels, diff.vals, diff.n, "products");
    for (int i = 0; i < drift.n; i++) labels[i] = drift.keys[i];
    if (drift.n) svg_bars(b, "nightly-drift", "Drift", labels, drift.vals, drift.n, "statistic");
    hb_puts(b, "</div></section>");
    return ST_OK;
}
