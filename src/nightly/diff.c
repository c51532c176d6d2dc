/* diff.c - night-over-night diff and drift (see diff.h). */
#include "nightly/diff.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/run.h"
#include "dist/dist.h"
#include "nightly/scan.h"
#include "util/check.h"
#include "util/log.h"

#define STAGE "nightly"
#define PSI_EPS 1e-4
#define FEATURE_BLOCK 4096

void night_class_drift(const int64_t *prev, const int64_t *now, int n_classes, double *tv, double *psi) {
    double sp = 0, sn = 0;
    for (int i = 0; i < n_classes; i++) sp += (double)prev[i], sn += (double)now[i];
    double t = 0, s = 0;
    for (int i = 0; i < n_classes; i++) {
        double p = sp > 0 ? (double)prev[i] / sp : 0, q = sn > 0 ? (double)now[i] / sn : 0;
        t += fabs(q - p);
        double pe = p > 0 ? p : PSI_EPS, qe = q > 0 ? q : PSI_EPS;
        if (p > 0 || q > 0) s += (qe - pe) * log(qe / pe);
    }
    *tv = 0.5 * t;
    *psi = s;
}

/* Bin of v: the number of edges <= v. */
static int bin_of(double v, const double *edges) {
    int b = 0;
    while (b < NIGHT_BINS - 1 && edges[b] <= v) b++;
    return b;
}

double night_psi_binned(const double *x, int64_t n, const double *edges, const double *expect) {
    int64_t cnt[NIGHT_BINS] = {0};
    for (int64_t i = 0; i < n; i++) cnt[bin_of(x[i], edges)]++;
    double s = 0;
    for (int b = 0; b < NIGHT_BINS; b++) {
        double a = n > 0 ? (double)cnt[b] / (double)n : 0;
        double e = expect[b];
        if (a <= 0 && e <= 0) continue;
        if (a <= 0) a = PSI_EPS;
        if (e <= 0) e = PSI_EPS;
        s += (a - e) * log(a / e);
    }
    return s;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void night_deciles(double *x, int64_t n, double *edges, double *fractions) {
    qsort(x, (size_t)n, sizeof *x, dbl_cmp);
    for (int b = 1; b < NIGHT_BINS; b++) edges[b - 1] = x[(int64_t)((double)b * (double)n / NIGHT_BINS)];
    int64_t cnt[NIGHT_BINS] = {0};
    for (int64_t i = 0; i < n; i++) cnt[bin_of(x[i], edges)]++;
    for (int b = 0; b < NIGHT_BINS; b++) fractions[b] = (double)cnt[b] / (double)n;
}

/* splitmix64 -> uniform (0,1) -> Box-Muller normals. */
static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void night_projections(int dim, double *dirs) {
    uint64_t s = 0x6E696768746C79ull;  /* fixed: every night uses the same directions */
    for (int p = 0; p < NIGHT_PROJ; p++) {
        double norm = 0;
        for (int j = 0; j < dim; j++) {
            double u1 = ((double)(splitmix(&s) >> 11) + 0.5) / 9007199254740992.0;
            double u2 = ((double)(splitmix(&s) >> 11) + 0.5) / 9007199254740992.0;
            double g = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            dirs[(size_t)p * dim + j] = g;
            norm += g * g;
        }
        norm = sqrt(norm);
        for (int j = 0; j < dim; j++) dirs[(size_t)p * dim + j] /= norm;
    }
}

/* One level of a predictions run. */
struct pred_level {
    int32_t *pred;     /* (n) class index, -1 none */
    uint8_t *flags;    /* (n) */
    char *classes;     /* (n_classes, CATALOG_CLASS_BYTES) */
    int64_t n, n_classes;
};

static void pred_level_free(struct pred_level *l) {
    free(l->pred), free(l->flags), free(l->classes);
    memset(l, 0, sizeof *l);
}

static int read_level(struct catalog *c, const char *run, const char *level, struct pred_level *out) {
    int rc = ST_OK;
    char p[512];
    hid_t ct = catalog_str_type(CATALOG_CLASS_BYTES);
    snprintf(p, sizeof p, "/predictions/%s/%s/pred", run, level);
    TRY(catalog_read_all(c, p, H5T_NATIVE_INT32, (void **)&out->pred, &out->n));
    snprintf(p, sizeof p, "/predictions/%s/%s/flags", run, level);
    if (catalog_exists(c, p)) TRY(catalog_read_all(c, p, H5T_NATIVE_UINT8, (void **)&out->flags, NULL));
    snprintf(p, sizeof p, "/predictions/%s/%s/classes", run, level);
    TRY(catalog_read_all(c, p, ct, (void **)&out->classes, &out->n_classes));
fail:
    H5Tclose(ct);
    return rc;
}

static const char *class_name(const struct pred_level *l, int64_t row) {
    if (!l->pred || row >= l->n) return NULL;
    int32_t k = l->pred[row];
    return k >= 0 && k < l->n_classes ? l->classes + (size_t)k * CATALOG_CLASS_BYTES : NULL;
}

/* Class-distribution drift between two runs of one level, over a shared name table. */
static int level_drift(const struct pred_level *prev, const struct pred_level *now, double *tv, double *psi) {
    int rc = ST_OK;
    int64_t cap = prev->n_classes + now->n_classes;
    const char **names = NULL;
    int64_t *cp = NULL, *cn = NULL;
    int64_t m = 0;
    TRY_ALLOC(names = calloc((size_t)cap + 1, sizeof *names));
    TRY_ALLOC(cp = calloc((size_t)cap + 1, sizeof *cp));
    TRY_ALLOC(cn = calloc((size_t)cap + 1, sizeof *cn));
    for (int side = 0; side < 2; side++) {
        const struct pred_level *l = side ? now : prev;
        for (int64_t r = 0; r < l->n; r++) {
            const char *nm = class_name(l, r);
            if (!nm) continue;
            int64_t k = 0;
            while (k < m && strcmp(names[k], nm)) k++;  /* class tables are small */
            if (k == m) names[m++] = nm;
            (side ? cn : cp)[k]++;
        }
    }
    night_class_drift(cp, cn, (int)m, tv, psi);
fail:
    free(names), free(cp), free(cn);
    return rc;
}

/* Active rows with valid features: mean (dim) and projections (NIGHT_PROJ, n_rows). */
static int feature_stats(struct catalog *c, const char *backbone, double **mean_out, int *dim_out,
                         double **proj_out, int64_t *rows_out) {
    int rc = ST_OK;
    char fpath[256], vpath[256];
    uint8_t *valid = NULL, *status = NULL;
    float *buf = NULL;
    double *mean = NULL, *proj = NULL, *dirs = NULL;
    int64_t n = catalog_count(c), used = 0;
    snprintf(fpath, sizeof fpath, "/features/%s/data", backbone);
    snprintf(vpath, sizeof vpath, "/features/%s/valid", backbone);
    *mean_out = NULL, *proj_out = NULL, *rows_out = 0, *dim_out = 0;
    if (!catalog_exists(c, fpath) || n == 0) return ST_OK;
    int nd = 0;
    hsize_t d[8];
    TRY(catalog_dims(c, fpath, &nd, d));
    REQUIRE(nd == 2 && (int64_t)d[0] == n, ST_DATA, "%s has %llu rows, the catalog %lld; rerun `assort extract`",
            fpath, (unsigned long long)d[0], (long long)n);
    int dim = (int)d[1];
    if (catalog_exists(c, vpath)) TRY(catalog_read_all(c, vpath, H5T_NATIVE_UINT8, (void **)&valid, NULL));
    TRY(catalog_read_all(c, "/products/status", H5T_NATIVE_UINT8, (void **)&status, NULL));
    TRY_ALLOC(mean = calloc((size_t)dim, sizeof *mean));
    TRY_ALLOC(proj = malloc(sizeof *proj * NIGHT_PROJ * (size_t)n));
    TRY_ALLOC(dirs = malloc(sizeof *dirs * NIGHT_PROJ * (size_t)dim));
    TRY_ALLOC(buf = malloc(sizeof *buf * FEATURE_BLOCK * (size_t)dim));
    night_projections(dim, dirs);
    for (int64_t b = 0; b < n; b += FEATURE_BLOCK) {
        int64_t cnt = n - b < FEATURE_BLOCK ? n - b : FEATURE_BLOCK;
        TRY(catalog_read_rows(c, fpath, H5T_NATIVE_FLOAT, b, cnt, buf));  /* (cnt, dim) */
        for (int64_t i = 0; i < cnt; i++) {
            int64_t r = b + i;
            if (status[r] != PRODUCT_ACTIVE || (valid && !valid[r])) continue;
            const float *f = buf + (size_t)i * dim;
            for (int j = 0; j < dim; j++) mean[j] += f[j];
            for (int p = 0; p < NIGHT_PROJ; p++) {
                double s = 0;
                for (int j = 0; j < dim; j++) s += dirs[(size_t)p * dim + j] * f[j];
                proj[(size_t)p * n + used] = s;
            }
            used++;
        }
    }
    for (int j = 0; j < dim && used > 0; j++) mean[j] /= (double)used;
    /* compact: projection p's values are proj[p * used ...] */
    for (int p = 1; p < NIGHT_PROJ; p++) memmove(proj + (size_t)p * used, proj + (size_t)p * n, sizeof *proj * used);
    *mean_out = mean, *proj_out = proj, *rows_out = used, *dim_out = dim;
    mean = proj = NULL;
fail:
    free(valid), free(status), free(buf), free(mean), free(proj), free(dirs);
    return rc;
}

int nightly_diff(const char *path, const struct config *cfg, struct night_diff *out) {
    int rc = ST_OK;
    struct catalog_txn txn = {0};
    struct run_record run = {0};
    int in_txn = 0, in_run = 0;
    struct pred_level now[NIGHT_MAX_LEVELS] = {{0}}, prev[NIGHT_MAX_LEVELS] = {{0}};
    char **members = NULL;
    int n_members = 0;
    int64_t *gid = NULL, *gsz = NULL, *pgid = NULL, *pgsz = NULL, *rows = NULL, *first = NULL;
    double *mean = NULL, *proj = NULL, *prev_mean = NULL, *prev_edges = NULL, *prev_frac = NULL;
    char *json = NULL;
    memset(out, 0, sizeof *out);
    out->drift_alert = cfg->nightly.drift_alert;
    out->feature_cosine_shift = out->feature_psi = NAN;

    TRY(dist_agree(catalog_begin(path, "nightly", 0, &txn)));
    in_txn = 1;
    struct catalog *c = txn.cat;
    int64_t n = catalog_count(c);
    TRY(night_latest(c, "/predictions", 0, out->predictions, sizeof out->predictions));
    REQUIRE(out->predictions[0], ST_DATA, "%s: no complete /predictions run; run `assort classify` first",
            path);
    TRY(night_latest(c, "/predictions", 1, out->prev_predictions, sizeof out->prev_predictions));
    TRY(night_latest(c, "/nightly", 0, out->prev_night, sizeof out->prev_night));
    TRY(run_begin(c, "nightly", cfg, &run));
    in_run = 1;
    snprintf(out->run_id, sizeof out->run_id, "%s", run.id);
    TRY_ALLOC(rows = malloc(sizeof *rows * (size_t)(n ? n : 1)));

    char grp[512], p[1024];  /* grp + "/" + level (<= 128) + "/new_flag_rows" */
    snprintf(grp, sizeof grp, "/nightly/%s", run.id);
    hsize_t one = 1;
    (void)one;

    /* levels: members of the predictions group that hold a pred dataset */
    snprintf(p, sizeof p, "/predictions/%s", out->predictions);
    TRY(catalog_list(c, p, &members, &n_members));
    for (int m = 0; m < n_members && out->n_levels < NIGHT_MAX_LEVELS; m++) {
        snprintf(p, sizeof p, "/predictions/%s/%s/pred", out->predictions, members[m]);
        if (!catalog_exists(c, p)) continue;
        int L = out->n_levels++;
        struct night_level *lv = &out->levels[L];
        snprintf(lv->name, sizeof lv->name, "%s", members[m]);
        lv->class_tv = lv->class_psi = NAN;
        TRY(read_level(c, out->predictions, members[m], &now[L]));
        int have_prev = 0;
        if (out->prev_predictions[0]) {
            snprintf(p, sizeof p, "/predictions/%s/%s/pred", out->prev_predictions, members[m]);
            if (catalog_exists(c, p)) {
                TRY(read_level(c, out->prev_predictions, members[m], &prev[L]));
                have_prev = 1;
            }
        }
        int64_t nc = 0, nr = 0;
        for (int64_t r = 0; r < now[L].n; r++) {
            const char *a = class_name(&now[L], r);
            if (!a) continue;
            lv->classified++;
            const char *b = have_prev ? class_name(&prev[L], r) : NULL;
            if (have_prev && b && strcmp(a, b)) rows[nc++] = r;
        }
        lv->changed = nc;
        snprintf(p, sizeof p, "%s/%s/changed_rows", grp, lv->name);
        hsize_t dn = (hsize_t)nc;
        TRY(catalog_write_small(c, p, H5T_NATIVE_INT64, 1, &dn, rows));
        /* new flags: bits set tonight and not last night (all bits for a row new tonight) */
        for (int64_t r = 0; now[L].flags && r < now[L].n; r++) {
            uint8_t f = now[L].flags[r];
            uint8_t before = have_prev && prev[L].flags && r < prev[L].n && prev[L].pred[r] >= 0 ? prev[L].flags[r] : 0;
            if (!have_prev) before = f;  /* first night: nothing is "new" */
            if (f & (uint8_t)~before) rows[nr++] = r;
        }
        lv->new_review = nr;
        snprintf(p, sizeof p, "%s/%s/new_flag_rows", grp, lv->name);
        dn = (hsize_t)nr;
        TRY(catalog_write_small(c, p, H5T_NATIVE_INT64, 1, &dn, rows));
        if (have_prev) TRY(level_drift(&prev[L], &now[L], &lv->class_tv, &lv->class_psi));
        snprintf(p, sizeof p, "%s/%s", grp, lv->name);
        TRY(catalog_set_attr_i64(c, p, "classified", lv->classified));
        TRY(catalog_set_attr_i64(c, p, "changed", lv->changed));
        TRY(catalog_set_attr_i64(c, p, "new_flags", lv->new_review));
        TRY(catalog_set_attr_f64(c, p, "class_tv", lv->class_tv));
        TRY(catalog_set_attr_f64(c, p, "class_psi", lv->class_psi));
    }
    REQUIRE(out->n_levels > 0, ST_DATA, "%s: /predictions/%s has no <level>/pred datasets", path,
            out->predictions);

    /* duplicate groups: new unless all members shared one group last night */
    snprintf(p, sizeof p, "/predictions/%s/group_id", out->predictions);
    int64_t ng = 0, n_new = 0;
    if (catalog_exists(c, p)) {
        int64_t gn = 0, pn = 0;
        TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&gid, &gn));
        snprintf(p, sizeof p, "/predictions/%s/group_size", out->predictions);
        TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&gsz, NULL));
        snprintf(p, sizeof p, "/predictions/%s/group_id", out->prev_predictions);
        if (out->prev_predictions[0] && catalog_exists(c, p)) {
            TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&pgid, &pn));
            snprintf(p, sizeof p, "/predictions/%s/group_size", out->prev_predictions);
            TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&pgsz, NULL));
        }
        /* first[g]: a member of tonight's group g (group ids are row indices < gn) */
        TRY_ALLOC(first = malloc(sizeof *first * (size_t)(gn ? gn : 1)));
        uint8_t *is_new = calloc((size_t)(gn ? gn : 1), 1);
        TRY_ALLOC(is_new);
        for (int64_t g = 0; g < gn; g++) first[g] = -1;
        for (int64_t r = 0; r < gn; r++) {
            if (gsz[r] < 2 || gid[r] < 0 || gid[r] >= gn) continue;
            int64_t g = gid[r];
            if (first[g] < 0) {
                first[g] = r;
                ng++;
                if (!pgid || r >= pn || pgsz[r] < 2) is_new[g] = 1;
            } else if (!pgid || r >= pn || pgsz[r] < 2 || pgid[r] != pgid[first[g]]) {
                is_new[g] = 1;
            }
        }
        if (!pgid && !out->prev_predictions[0]) memset(is_new, 0, (size_t)(gn ? gn : 1));  /* first night */
        int64_t k = 0;
        for (int64_t r = 0; r < gn; r++)
            if (gsz[r] >= 2 && gid[r] >= 0 && gid[r] < gn && is_new[gid[r]]) rows[k++] = r;
        for (int64_t g = 0; g < gn; g++) n_new += is_new[g] && first[g] >= 0;
        free(is_new);
        hsize_t dn = (hsize_t)k;
        snprintf(p, sizeof p, "%s/new_group_rows", grp);
        TRY(catalog_write_small(c, p, H5T_NATIVE_INT64, 1, &dn, rows));
    }
    out->groups = ng, out->new_groups = n_new;

    /* feature drift */
    int dim = 0;
    TRY(feature_stats(c, cfg->train.features, &mean, &dim, &proj, &out->feature_rows));
    if (mean && out->feature_rows > 0) {
        double edges[NIGHT_PROJ][NIGHT_BINS - 1], frac[NIGHT_PROJ][NIGHT_BINS];
        char pp[640];
        snprintf(pp, sizeof pp, "/nightly/%s/feature_mean", out->prev_night);
        int have_prev = out->prev_night[0] && catalog_exists(c, pp);
        if (have_prev) {
            int64_t pd = 0;
            TRY(catalog_read_all(c, pp, H5T_NATIVE_DOUBLE, (void **)&prev_mean, &pd));
            snprintf(pp, sizeof pp, "/nightly/%s/projection_edges", out->prev_night);
            TRY(catalog_read_all(c, pp, H5T_NATIVE_DOUBLE, (void **)&prev_edges, NULL));
            snprintf(pp, sizeof pp, "/nightly/%s/projection_fractions", out->prev_night);
            TRY(catalog_read_all(c, pp, H5T_NATIVE_DOUBLE, (void **)&prev_frac, NULL));
            if (pd == dim) {
                double dot = 0, na = 0, nb = 0;
                for (int j = 0; j < dim; j++)
                    dot += prev_mean[j] * mean[j], na += prev_mean[j] * prev_mean[j], nb += mean[j] * mean[j];
                out->feature_cosine_shift = na > 0 && nb > 0 ? 1 - dot / sqrt(na * nb) : NAN;
                double s = 0;
                for (int q = 0; q < NIGHT_PROJ; q++)
                    s += night_psi_binned(proj + (size_t)q * out->feature_rows, out->feature_rows,
                                          prev_edges + q * (NIGHT_BINS - 1), prev_frac + q * NIGHT_BINS);
                out->feature_psi = s / NIGHT_PROJ;
            }
        }
        for (int q = 0; q < NIGHT_PROJ; q++)
            night_deciles(proj + (size_t)q * out->feature_rows, out->feature_rows, edges[q], frac[q]);
        hsize_t d1 = (hsize_t)dim, d2[2] = {NIGHT_PROJ, NIGHT_BINS - 1}, d3[2] = {NIGHT_PROJ, NIGHT_BINS};
        snprintf(p, sizeof p, "%s/feature_mean", grp);
        TRY(catalog_write_small(c, p, H5T_NATIVE_DOUBLE, 1, &d1, mean));
        snprintf(p, sizeof p, "%s/projection_edges", grp);
        TRY(catalog_write_small(c, p, H5T_NATIVE_DOUBLE, 2, d2, edges));
        snprintf(p, sizeof p, "%s/projection_fractions", grp);
        TRY(catalog_write_small(c, p, H5T_NATIVE_DOUBLE, 2, d3, frac));
    }

    /* alert and the group's attributes */
    double worst = 0;
    for (int L = 0; L < out->n_levels; L++)
        if (isfinite(out->levels[L].class_psi) && out->levels[L].class_psi > worst) worst = out->levels[L].class_psi;
    if (isfinite(out->feature_psi) && out->feature_psi > worst) worst = out->feature_psi;
    out->alert = worst > out->drift_alert;
    TRY(catalog_set_attr_str(c, grp, "predictions_run", out->predictions));
    TRY(catalog_set_attr_str(c, grp, "previous_predictions_run", out->prev_predictions));
    TRY(catalog_set_attr_str(c, grp, "previous_night", out->prev_night));
    TRY(catalog_set_attr_i64(c, grp, "groups", out->groups));
    TRY(catalog_set_attr_i64(c, grp, "new_groups", out->new_groups));
    TRY(catalog_set_attr_i64(c, grp, "feature_rows", out->feature_rows));
    TRY(catalog_set_attr_f64(c, grp, "feature_cosine_shift", out->feature_cosine_shift));
    TRY(catalog_set_attr_f64(c, grp, "feature_psi", out->feature_psi));
    TRY(catalog_set_attr_f64(c, grp, "drift_alert", out->drift_alert));
    TRY(catalog_set_attr_i64(c, grp, "alert", out->alert));
    TRY(catalog_set_attr_str(c, grp, "backbone", cfg->train.features));

    /* metrics JSON (NaN -> null): "diff" counts and "drift" statistics, which
     * `assort report` charts (its #nightly section flattens both objects) */
    size_t cap = 2048 + 768 * (size_t)out->n_levels, used = 0;
    TRY_ALLOC(json = malloc(cap));
#define J(...) used += (size_t)snprintf(json + used, cap - used, __VA_ARGS__)
    J("{\"predictions_run\": \"%s\", \"previous_predictions_run\": \"%s\", \"previous_night\": \"%s\", "
      "\"diff\": {\"changed\": {", out->predictions, out->prev_predictions, out->prev_night);
    for (int L = 0; L < out->n_levels; L++) J("%s\"%s\": %lld", L ? ", " : "", out->levels[L].name, (long long)out->levels[L].changed);
    J("}, \"new_flags\": {");
    for (int L = 0; L < out->n_levels; L++) J("%s\"%s\": %lld", L ? ", " : "", out->levels[L].name, (long long)out->levels[L].new_review);
    J("}, \"new_groups\": %lld}, \"drift\": {\"class_tv\": {", (long long)out->new_groups);
    char v[48];
#define NUM(x) (snprintf(v, sizeof v, isfinite(x) ? "%.6g" : "null", (x)), v)
    for (int L = 0; L < out->n_levels; L++) J("%s\"%s\": %s", L ? ", " : "", out->levels[L].name, NUM(out->levels[L].class_tv));
    J("}, \"class_psi\": {");
    for (int L = 0; L < out->n_levels; L++) J("%s\"%s\": %s", L ? ", " : "", out->levels[L].name, NUM(out->levels[L].class_psi));
    J("}, \"feature_cosine_shift\": %s", NUM(out->feature_cosine_shift));
    J(", \"feature_psi\": %s}, \"classified\": {", NUM(out->feature_psi));
    for (int L = 0; L < out->n_levels; L++) J("%s\"%s\": %lld", L ? ", " : "", out->levels[L].name, (long long)out->levels[L].classified);
    J("}, \"groups\": %lld, \"feature_rows\": %lld, \"drift_alert\": %g, \"alert\": %s}", (long long)out->groups,
      (long long)out->feature_rows, out->drift_alert, out->alert ? "true" : "false");
#undef NUM
#undef J
    TRY(run_set_metrics(&run, json));
    TRY(catalog_mark_complete(c, grp));
    TRY(dist_agree(run_end(c, &run)));
    in_run = 0;
    TRY(dist_agree(catalog_commit(&txn)));
    in_txn = 0;
fail:
    if (in_run) run_free(&run);
    if (in_txn && (dist_size() == 1 || dist_failure_agreed())) catalog_abort(&txn, 1);
    for (int L = 0; L < NIGHT_MAX_LEVELS; L++) pred_level_free(&now[L]), pred_level_free(&prev[L]);
    catalog_list_free(members, n_members);
    free(gid), free(gsz), free(pgid), free(pgsz), free(rows), free(first);
    free(mean), free(proj), free(prev_mean), free(prev_edges), free(prev_frac), free(json);
    return rc;
}
