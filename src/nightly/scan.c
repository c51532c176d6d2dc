/* scan.c - the night's changes: CSV rows against catalog rows (see scan.h). */
#include "nightly/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "ingest/csv.h"
#include "util/check.h"
#include "util/fsutil.h"
#include "util/hash.h"

int night_latest(struct catalog *c, const char *group, int skip, char *out, size_t out_size) {
    int rc = ST_OK;
    char **names = NULL;
    int count = 0;
    out[0] = '\0';
    if (!catalog_exists(c, group)) return ST_OK;
    TRY(catalog_list(c, group, &names, &count));
    /* run ids start with YYYYMMDD-HHMMSS, so name order is time order */
    for (int i = count - 1; i >= 0; i--) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", group, names[i]);
        if (!catalog_is_complete(c, path)) continue;
        if (skip-- > 0) continue;
        snprintf(out, out_size, "%s", names[i]);
        break;
    }
fail:
    catalog_list_free(names, count);
    return rc;
}

/* Sorted id index for lookups. */
struct id_ix {
    const char *id;
    int64_t row;
};

static int ix_cmp(const void *a, const void *b) {
    return strcmp(((const struct id_ix *)a)->id, ((const struct id_ix *)b)->id);
}

static int read_file_hash(const char *path, uint8_t out[16]) {
    char *data = NULL;
    size_t n = 0;
    int rc = fs_read_all(path, &data, &n);
    if (rc == ST_OK) hash128(data, n, out);
    free(data);
    return rc;
}

int night_scan(const char *catalog_path, const char *csv_path, const char *images_root,
               const struct config *cfg, struct night_scan *out) {
    int rc = ST_OK;
    struct catalog *c = NULL;
    struct csv *csv = NULL;
    char *ids = NULL, *names = NULL, **classes = NULL;
    uint8_t *hashes = NULL, *status = NULL, *dirty = NULL, *needs = NULL, *seen = NULL, *touched = NULL, *valid = NULL;
    int32_t *labels = NULL;
    int64_t *class_count = NULL;
    struct id_ix *ix = NULL;
    int n_levels = 0;
    memset(out, 0, sizeof *out);

    out->catalog_exists = fs_exists(catalog_path);
    int64_t n = 0;
    if (out->catalog_exists) {
        TRY(catalog_open(catalog_path, 0, &c));
        n = out->rows = catalog_count(c);
        if (n > 0) {
            hid_t id_t = catalog_str_type(CATALOG_ID_BYTES), name_t = catalog_str_type(CATALOG_NAME_BYTES);
            int r1 = catalog_read_all(c, "/products/id", id_t, (void **)&ids, NULL);
            int r2 = r1 ? r1 : catalog_read_all(c, "/products/name", name_t, (void **)&names, NULL);
            H5Tclose(id_t), H5Tclose(name_t);
            TRY(r2);
            TRY(catalog_read_all(c, "/products/hash", H5T_NATIVE_UINT8, (void **)&hashes, NULL));
            TRY(catalog_read_all(c, "/products/status", H5T_NATIVE_UINT8, (void **)&status, NULL));
            TRY(catalog_read_all(c, "/products/dirty", H5T_NATIVE_UINT8, (void **)&dirty, NULL));
            out->have_needs_sim = catalog_exists(c, "/products/needs_similarity");
            if (out->have_needs_sim) {
                int64_t nr = 0;
                TRY(catalog_read_all(c, "/products/needs_similarity", H5T_NATIVE_UINT8, (void **)&needs,
                                     &nr));
                uint8_t *grown = realloc(needs, (size_t)n);
                TRY_ALLOC(grown);
                needs = grown; /* rows appended without the flag need a run */
                if (nr < n) memset(needs + (nr > 0 ? nr : 0), 1, (size_t)(n - (nr > 0 ? nr : 0)));
            }
            int nd = 0;
            hsize_t d[8];
            TRY(catalog_dims(c, "/products/labels", &nd, d));
            n_levels = nd > 1 ? (int)d[1] : 1;
            TRY(catalog_read_all(c, "/products/labels", H5T_NATIVE_INT32, (void **)&labels, NULL));
            for (int64_t i = 0; i < n; i++) {
                out->active += status[i] == PRODUCT_ACTIVE;
                out->dirty_now += status[i] == PRODUCT_ACTIVE && dirty[i];
            }
        }
        char grp[256];
        snprintf(grp, sizeof grp, "/features/%s", cfg->train.features);
        if (catalog_is_complete(c, grp)) {
            out->have_features = 1;
            snprintf(grp, sizeof grp, "/features/%s/valid", cfg->train.features);
            if (n > 0 && catalog_exists(c, grp)) {
                int64_t vr = 0;
                TRY(catalog_read_all(c, grp, H5T_NATIVE_UINT8, (void **)&valid, &vr));
                /* rows ingested since the last extract are not in /features yet: not valid */
                uint8_t *grown = realloc(valid, (size_t)n);
                TRY_ALLOC(grown);
                valid = grown;
                if (vr < n) memset(valid + (vr > 0 ? vr : 0), 0, (size_t)(n - (vr > 0 ? vr : 0)));
                for (int64_t i = 0; i < n; i++) out->valid_features += valid[i] != 0;
            }
        }
        char **hn = NULL;
        int hc = 0;
        if (catalog_exists(c, "/heads")) {
            TRY(catalog_list(c, "/heads", &hn, &hc));
            for (int i = 0; i < hc; i++) {
                snprintf(grp, sizeof grp, "/heads/%s", hn[i]);
                if (!catalog_is_complete(c, grp)) continue;
                if (out->n_heads++ == 0) snprintf(out->head, sizeof out->head, "%s", hn[i]);
            }
            catalog_list_free(hn, hc);
        }
        TRY(night_latest(c, "/similarity", 0, out->last_similarity, sizeof out->last_similarity));
        TRY(night_latest(c, "/predictions", 0, out->last_predictions, sizeof out->last_predictions));
        TRY(night_latest(c, "/nightly", 0, out->last_night, sizeof out->last_night));
    }
    out->to_extract = out->dirty_kept = out->dirty_now;
    /* flagged rows similarity can query: active, with valid features or dirty
     * (extract runs first tonight) */
    for (int64_t i = 0; i < n; i++)
        out->needs_sim_now +=
            status[i] == PRODUCT_ACTIVE && (!needs || needs[i]) && (!valid || valid[i] || dirty[i]);
    out->to_query = out->needs_sim_kept = out->needs_sim_now;
    if (!csv_path) goto done;

    /* class names per level, to compare labels by name */
    int cfg_levels = cfg->ingest.levels.count;
    TRY_ALLOC(classes = calloc((size_t)cfg_levels + 1, sizeof *classes));
    TRY_ALLOC(class_count = calloc((size_t)cfg_levels + 1, sizeof *class_count));
    if (c && n > 0) {
        hid_t ct = catalog_str_type(CATALOG_CLASS_BYTES);
        for (int l = 0; l < cfg_levels && l < n_levels; l++) {
            char grp[256];
            snprintf(grp, sizeof grp, "/categories/%s", cfg->ingest.levels.items[l]);
            if (!catalog_exists(c, grp)) continue;
            int r = catalog_read_all(c, grp, ct, (void **)&classes[l], &class_count[l]);
            if (r) { H5Tclose(ct); TRY(r); }
        }
        H5Tclose(ct);
    }
    TRY_ALLOC(ix = calloc((size_t)n + 1, sizeof *ix));
    for (int64_t i = 0; i < n; i++) ix[i] = (struct id_ix){ids + i * CATALOG_ID_BYTES, i};
    qsort(ix, (size_t)n, sizeof *ix, ix_cmp);
    TRY_ALLOC(seen = calloc((size_t)n + 1, 1));
    TRY_ALLOC(touched = calloc((size_t)n + 1, 1));

    TRY(csv_open(csv_path, &csv));
    int col_id = csv_column(csv, cfg->ingest.id_column), col_name = csv_column(csv, cfg->ingest.name_column),
        col_img = csv_column(csv, cfg->ingest.image_column);
    REQUIRE(col_id >= 0 && col_name >= 0 && col_img >= 0, ST_DATA,
            "%s:1: the header lacks the id, name or image column ('%s', '%s', '%s'); set "
            "ingest.id_column/name_column/image_column", csv_path, cfg->ingest.id_column,
            cfg->ingest.name_column, cfg->ingest.image_column);
    int col_lv[64];
    for (int l = 0; l < cfg_levels && l < 64; l++) {
        col_lv[l] = csv_column(csv, cfg->ingest.levels.items[l]);
        REQUIRE(col_lv[l] >= 0, ST_DATA, "%s:1: no column '%s' (ingest.levels)", csv_path,
                cfg->ingest.levels.items[l]);
    }
    out->have_csv = 1;
    for (;;) {
        struct csv_row row;
        int have = 0;
        int r = csv_next(csv, &row, &have);
        if (!have) { TRY(r); break; }
        if (r != ST_OK) continue;  /* ingest rejects a row with the wrong field count */
        out->csv_rows++;
        struct id_ix key = {row.fields[col_id], 0};
        struct id_ix *hit = n ? bsearch(&key, ix, (size_t)n, sizeof *ix, ix_cmp) : NULL;
        char img[8192];
        snprintf(img, sizeof img, "%s/%s", images_root, row.fields[col_img]);
        uint8_t h[16];
        int readable = read_file_hash(img, h) == ST_OK;
        if (!readable) {
            out->unreadable++;
            err_clear();
        }
        if (!hit) {
            if (readable) out->new_count++;
            continue;
        }
        int64_t i = hit->row;
        seen[i] = 1;
        if (!readable) continue;  /* rejected: the previous row stays */
        int diff = memcmp(h, hashes + i * 16, 16) != 0;
        if (diff) out->hash_changed++;
        if (strncmp(row.fields[col_name], names + i * CATALOG_NAME_BYTES, CATALOG_NAME_BYTES - 1)) diff = 1;
        for (int l = 0; l < cfg_levels && l < n_levels; l++) {
            int32_t lab = labels[i * n_levels + l];
            const char *have_name = lab >= 0 && lab < class_count[l] ? classes[l] + (size_t)lab * CATALOG_CLASS_BYTES : "";
            if (strncmp(row.fields[col_lv[l]], have_name, CATALOG_CLASS_BYTES - 1)) diff = 1;
        }
        if (status[i] == PRODUCT_REMOVED) {
            out->reactivated++;
            diff = 1;
        }
        if (diff) {
            out->changed_count++;
            touched[i] = 1;
        }
    }
    for (int64_t i = 0; i < n; i++)
        if (status[i] == PRODUCT_ACTIVE && !seen[i]) out->removed_count++;
    out->dirty_kept = 0;
    for (int64_t i = 0; i < n; i++)
        out->dirty_kept += !touched[i] && dirty[i] && status[i] == PRODUCT_ACTIVE && seen[i];
    out->to_extract = out->new_count + out->changed_count + out->dirty_kept;
    out->needs_sim_kept = 0;
    for (int64_t i = 0; i < n; i++)
        out->needs_sim_kept += !touched[i] && (!needs || needs[i]) && status[i] == PRODUCT_ACTIVE &&
                               seen[i] && (!valid || valid[i] || dirty[i]);
    out->to_query = out->new_count + out->changed_count + out->needs_sim_kept;
done:
fail:
    csv_close(csv);
    if (c) catalog_close(c);
    if (classes)
        for (int l = 0; l < cfg->ingest.levels.count; l++) free(classes[l]);
    free(classes), free(class_count);
    free(ids), free(names), free(hashes), free(status), free(dirty), free(needs), free(labels), free(valid);
    free(ix), free(seen), free(touched);
    return rc;
}
