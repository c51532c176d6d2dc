/* classify_catalog.c - `assort classify` over a catalog (classify_catalog.h). */
#include "classify/classify_catalog.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "catalog/run.h"
#include "classify/combine.h"
#include "classify/export.h"
#include "classify/name_model.h"
#include "classify/weights.h"
#include "dist/dist.h"
#include "similarity/knn.h"
#include "similarity/names.h"
#include "train/head.h"
#include "train/metrics.h"
#include "util/check.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/signals.h"

#define CLS CATALOG_CLASS_BYTES
/* Rows per head forward: shards are whole global blocks, so every sgemm sees
 * the same operands for any rank count (bit-identical logits). */
#define CLASSIFY_BLOCK 256
/* Name model training (documented in docs/classify.md). */
#define NAME_EPOCHS 8
#define NAME_LR 0.5
#define NAME_L2 1e-6

/* Everything read once, shared by the levels. */
struct inputs {
    int64_t n;
    int n_levels;
    char *levels;             /* (n_levels, CLS) */
    int32_t *labels;          /* (n, n_levels) */
    uint8_t *status;          /* (n) */
    uint8_t *usable;          /* (n) valid features, active, finite */
    char *ids, *names;        /* (n, ID), (n, NAME) */
    int8_t *split;            /* (n) */
    char split_name[CLS + 16];
    char backbone[CLS];
    char feat[CLS + 32];
    int dim;
    /* similarity */
    char sim_run[128];        /* "" = none */
    int k;
    int64_t *nb;              /* (n, k) fused neighbours, -1 pads */
    float *s_img, *s_name, *s_fused; /* (n, k) */
    int64_t *gid, *gsz;       /* (n) */
    struct name_index *ix;
    /* this rank's rows */
    int64_t r0, r1;
    float *x;                 /* (r1 - r0, dim) */
};

struct job {
    char level[CLS];
    int li;
    char head_name[3 * CLS];
    struct head_shape shape;
    float *params;
    double t_head;
    int classes;
    char *class_names;        /* (classes, CLS) */
    int orig_count;
    char *orig;               /* (orig_count, CLS) */
    int32_t *map;             /* (orig_count) */
    int32_t *hclass;          /* (n) head class of each product's label, -1 */
    struct name_model nm;
    int nm_new;
    char nm_key[160];
    float *lh, *ln, *pk, *s;  /* (n_local, C) head logits, name logits, knn vote, combined */
    uint8_t *has_knn, *has_name; /* (n_local) */
    int32_t *pred, *top3;     /* (n_local), (n_local, 3) */
    float *conf, *top3s;
    uint8_t *flags;
    double t;                 /* temperature of the combined score */
    struct fusion_weights w;  /* weights used (config or chosen on validation) */
    const char *w_mode;       /* "fixed" | "search" */
    double w_val_top1;        /* search: validation top-1 of the chosen point */
    double w_val_top1_cfg;    /* search: validation top-1 of the configured weights */
    int64_t w_val_n;          /* search: validation rows searched over */
    int src_cal;              /* name and vote temperature-scaled (source_calibration) */
    double t_name, t_knn;     /* their temperatures (1 when not fitted) */
    double w_val_top1_raw, w_val_top1_srccal; /* best val top-1 without / with */
    double val_top1, test_top1; /* fused top-1 (level_metrics) */
};

static void job_free(struct job *j) {
    free(j->params), free(j->class_names), free(j->orig), free(j->map), free(j->hclass);
    name_model_free(&j->nm);
    free(j->lh), free(j->ln), free(j->pk), free(j->s), free(j->has_knn), free(j->has_name);
    free(j->pred), free(j->top3), free(j->conf), free(j->top3s), free(j->flags);
    memset(j, 0, sizeof *j);
}

static void inputs_free(struct inputs *in) {
    free(in->levels), free(in->labels), free(in->status), free(in->usable), free(in->ids);
    free(in->names), free(in->split), free(in->nb), free(in->s_img), free(in->s_name);
    free(in->s_fused), free(in->gid), free(in->gsz), free(in->x);
    name_index_free(in->ix);
    memset(in, 0, sizeof *in);
}

static int read_strings(struct catalog *c, const char *name, size_t bytes, char **out, int64_t *rows) {
    int rc = ST_OK;
    hid_t t = -1;
    TRY_H5(t = catalog_str_type(bytes));
    TRY(catalog_read_all(c, name, t, (void **)out, rows));
fail:
    if (t >= 0) H5Tclose(t);
    return rc;
}

/* Neighbour lists of the newest complete similarity run; older complete runs
 * fill the rows it did not query (a --query dirty run). */
static int load_similarity(struct catalog *c, struct inputs *in) {
    int rc = ST_OK;
    char **runs = NULL;
    int nr = 0;
    int64_t *q = NULL, *nb = NULL, *gid = NULL, *gsz = NULL;
    float *sc[3] = {NULL, NULL, NULL};
    uint8_t *filled = NULL;
    TRY(catalog_list(c, "/similarity", &runs, &nr));
    for (int r = nr - 1; r >= 0; r--) {
        char grp[300], p[400];
        snprintf(grp, sizeof grp, "/similarity/%s", runs[r]);
        if (!catalog_is_complete(c, grp)) continue;
        int64_t k = 0, nq = 0;
        TRY(catalog_get_attr_i64(c, grp, "k", &k));
        if (!in->sim_run[0]) {
            snprintf(in->sim_run, sizeof in->sim_run, "%s", runs[r]);
            in->k = (int)k;
            size_t nk = (size_t)in->n * (size_t)(k > 0 ? k : 1);
            TRY_ALLOC(in->nb = malloc(nk * sizeof(int64_t)));
            TRY_ALLOC(in->s_img = calloc(nk, sizeof(float)));
            TRY_ALLOC(in->s_name = calloc(nk, sizeof(float)));
            TRY_ALLOC(in->s_fused = calloc(nk, sizeof(float)));
            TRY_ALLOC(filled = calloc((size_t)in->n + 1, 1));
            for (size_t i = 0; i < nk; i++) in->nb[i] = -1;
            snprintf(p, sizeof p, "%s/group_id", grp);
            TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&in->gid, NULL));
            snprintf(p, sizeof p, "%s/group_size", grp);
            TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&in->gsz, NULL));
        }
        snprintf(p, sizeof p, "%s/query_rows", grp);
        TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&q, &nq));
        snprintf(p, sizeof p, "%s/neighbours", grp);
        TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&nb, NULL));
        const char *sn[3] = {"score_image", "score_name", "score_fused"};
        for (int s = 0; s < 3; s++) {
            snprintf(p, sizeof p, "%s/%s", grp, sn[s]);
            TRY(catalog_read_all(c, p, H5T_NATIVE_FLOAT, (void **)&sc[s], NULL));
        }
        int kk = (int)(k < in->k ? k : in->k);
        for (int64_t i = 0; i < nq; i++) {
            int64_t row = q[i];
            if (row < 0 || row >= in->n || filled[row]) continue;
            filled[row] = 1;
            for (int j = 0; j < kk; j++) {
                size_t o = (size_t)row * in->k + j, s = (size_t)i * k + j;
                in->nb[o] = nb[s] < in->n ? nb[s] : -1;
                in->s_img[o] = sc[0][s], in->s_name[o] = sc[1][s], in->s_fused[o] = sc[2][s];
            }
        }
        free(q), free(nb), free(sc[0]), free(sc[1]), free(sc[2]);
        q = NULL, nb = NULL, sc[0] = sc[1] = sc[2] = NULL;
    }
fail:
    catalog_list_free(runs, nr);
    free(q), free(nb), free(sc[0]), free(sc[1]), free(sc[2]), free(gid), free(gsz), free(filled);
    return rc;
}

static int load_inputs(struct catalog *c, const struct classify_request *req,
                       const struct config *cfg, struct inputs *in) {
    int rc = ST_OK;
    const char *path = req->catalog;
    in->n = catalog_count(c);
    REQUIRE(in->n > 0, ST_DATA, "%s: the catalog has no products; run `assort ingest` first", path);
    REQUIRE(catalog_exists(c, "/categories/levels") && catalog_exists(c, "/products/labels"),
            ST_DATA, "%s: no category levels or labels; run `assort ingest` first", path);
    int64_t nl = 0;
    TRY(read_strings(c, "/categories/levels", CLS, &in->levels, &nl));
    in->n_levels = (int)nl;
    TRY(catalog_read_all(c, "/products/labels", H5T_NATIVE_INT32, (void **)&in->labels, NULL));
    if (catalog_exists(c, "/products/status"))
        TRY(catalog_read_all(c, "/products/status", H5T_NATIVE_UINT8, (void **)&in->status, NULL));
    else
        TRY_ALLOC(in->status = calloc((size_t)in->n, 1));
    TRY(read_strings(c, "/products/id", CATALOG_ID_BYTES, &in->ids, NULL));
    TRY(read_strings(c, "/products/name", CATALOG_NAME_BYTES, &in->names, NULL));
    const char *bb = req->backbone ? req->backbone
                     : cfg->train.features && *cfg->train.features ? cfg->train.features : "lite0";
    snprintf(in->backbone, sizeof in->backbone, "%s", bb);
    snprintf(in->feat, sizeof in->feat, "/features/%s/data", bb);
    REQUIRE(catalog_exists(c, in->feat), ST_DATA,
            "%s: no %s features (%s missing); run `assort extract %s` first", path, bb, in->feat,
            path);
    int nd = 0;
    hsize_t dims[8];
    TRY(catalog_dims(c, in->feat, &nd, dims));
    REQUIRE(nd == 2 && (int64_t)dims[0] == in->n, ST_DATA,
            "%s: %s has %llu rows, the catalog %lld products; re-run `assort extract`", path,
            in->feat, (unsigned long long)dims[0], (long long)in->n);
    in->dim = (int)dims[1];
    TRY_ALLOC(in->usable = malloc((size_t)in->n));
    char vname[CLS + 32];
    snprintf(vname, sizeof vname, "/features/%s/valid", bb);
    uint8_t *valid = NULL;
    if (catalog_exists(c, vname))
        TRY(catalog_read_all(c, vname, H5T_NATIVE_UINT8, (void **)&valid, NULL));
    for (int64_t i = 0; i < in->n; i++)
        in->usable[i] = in->status[i] != PRODUCT_REMOVED && (!valid || valid[i]);
    free(valid);
    /* this rank's rows, whole global blocks; non-finite features are unusable */
    knn_shard_range(in->n, CLASSIFY_BLOCK, dist_rank(), dist_size(), &in->r0, &in->r1);
    int64_t nloc = in->r1 - in->r0;
    TRY_ALLOC(in->x = malloc(((size_t)nloc + 1) * in->dim * sizeof(float)));
    TRY(catalog_read_rows(c, in->feat, H5T_NATIVE_FLOAT, in->r0, nloc, in->x));
    for (int64_t i = 0; i < nloc; i++) {
        float *xr = in->x + (size_t)i * in->dim;
        int ok = 1;
        for (int d = 0; d < in->dim; d++) ok &= isfinite(xr[d]) != 0;
        if (!ok) {
            in->usable[in->r0 + i] = 0;
            memset(xr, 0, sizeof(float) * in->dim);
        }
    }
    TRY_MPI(MPI_Allreduce(MPI_IN_PLACE, in->usable, (int)in->n, MPI_UINT8_T, MPI_MIN, dist_comm()));
    int64_t bad_names = 0;
    TRY(name_index_build(in->names, CATALOG_NAME_BYTES, in->n, cfg->similarity.ngram, &in->ix,
                         &bad_names));
    if (bad_names)
        log_warn("classify", "%lld names are not valid UTF-8 and get no name vote; fix them in "
                 "the CSV and re-ingest", (long long)bad_names);
    TRY(load_similarity(c, in));
    if (!in->sim_run[0])
        log_warn("classify", "%s: no complete /similarity run: no neighbour vote and no duplicate "
                 "groups; run `assort similarity %s` first", path, path);
fail:
    return rc;
}

/* The head of one level and its class tables. */
static int load_head(struct catalog *c, const struct inputs *in, const char *head, int li,
                     struct job *j) {
    int rc = ST_OK;
    char grp[4 * CLS], p[5 * CLS], *kind = NULL, cname[CLS + 16];
    float *w = NULL;
    memcpy(j->level, in->levels + (size_t)li * CLS, CLS);
    j->level[CLS - 1] = '\0';
    j->li = li;
    snprintf(j->head_name, sizeof j->head_name, "%s-%s-%s", in->backbone, j->level, head);
    snprintf(grp, sizeof grp, "/heads/%s", j->head_name);
    int64_t v = 0;
    TRY(catalog_get_attr_str(c, grp, "head", &kind));
    int hk = head_kind_parse(kind);
    REQUIRE(hk >= 0, ST_DATA, "%s: %s has unknown head kind '%s'", in->feat, grp, kind);
    j->shape.kind = (enum head_kind)hk;
    TRY(catalog_get_attr_i64(c, grp, "in_dim", &v));
    REQUIRE(v == in->dim, ST_DATA, "%s: head %s takes %lld features but %s has %d; retrain with "
            "`assort train`", catalog_path(c), grp, (long long)v, in->feat, in->dim);
    j->shape.in_dim = (int)v;
    TRY(catalog_get_attr_i64(c, grp, "hidden", &v));
    j->shape.hidden = (int)v;
    TRY(catalog_get_attr_i64(c, grp, "classes", &v));
    j->shape.classes = j->classes = (int)v;
    TRY(catalog_get_attr_f64(c, grp, "temperature", &j->t_head));
    if (!(j->t_head > 0)) j->t_head = 1;
    snprintf(p, sizeof p, "%s/classes", grp);
    int64_t rows = 0;
    TRY(read_strings(c, p, CLS, &j->class_names, &rows));
    REQUIRE(rows == j->classes, ST_DATA, "%s has %lld class names, expected %d", p,
            (long long)rows, j->classes);
    snprintf(p, sizeof p, "%s/class_map", grp);
    TRY(catalog_read_all(c, p, H5T_NATIVE_INT32, (void **)&j->map, &rows));
    j->orig_count = (int)rows;
    snprintf(cname, sizeof cname, "/categories/%s", j->level);
    TRY(read_strings(c, cname, CLS, &j->orig, &rows));
    REQUIRE(rows >= j->orig_count, ST_DATA, "%s has fewer classes than %s/class_map", cname, grp);
    j->orig_count = (int)(rows < j->orig_count ? rows : j->orig_count);
    struct head_layout lay;
    head_layout_of(&j->shape, &lay);
    TRY_ALLOC(j->params = malloc(lay.count * sizeof(float)));
    const char *part[4] = {"w1", "b1", "w2", "b2"};
    size_t off[5] = {lay.w1, lay.b1, lay.w2, lay.b2, lay.count};
    for (int q = 0; q < (j->shape.kind == HEAD_MLP ? 4 : 2); q++) {
        snprintf(p, sizeof p, "%s/%s", grp, part[q]);
        int64_t r = 0;
        free(w);
        w = NULL;
        TRY(catalog_read_all(c, p, H5T_NATIVE_FLOAT, (void **)&w, &r));
        int nd = 0;
        hsize_t dims[8];
        TRY(catalog_dims(c, p, &nd, dims));
        size_t cnt = 1;
        for (int d = 0; d < nd; d++) cnt *= dims[d];
        REQUIRE(cnt == off[q + 1] - off[q], ST_DATA, "%s has %zu values, expected %zu", p, cnt,
                off[q + 1] - off[q]);
        memcpy(j->params + off[q], w, cnt * sizeof(float));
    }
    TRY_ALLOC(j->hclass = malloc((size_t)in->n * sizeof(int32_t)));
    for (int64_t i = 0; i < in->n; i++) {
        int32_t y = in->labels[(size_t)i * in->n_levels + li];
        j->hclass[i] = y >= 0 && y < j->orig_count ? j->map[y] : -1;
    }
fail:
    free(kind);
    free(w);
    return rc;
}

/* Name model of a level: reused when /heads/name-<level> is complete and its
 * key (split, names, n-gram size, class table, training constants) matches,
 * else trained now on the training split (every rank the same model). */
static int name_model_get(struct catalog *c, const struct inputs *in, const struct config *cfg,
                          int force, struct job *j) {
    int rc = ST_OK;
    char grp[2 * CLS], p[3 * CLS], *key = NULL;
    int64_t *rows = NULL;
    int32_t *ys = NULL;
    float *w = NULL;
    uint64_t hs = hash64(in->split, (size_t)in->n);
    uint64_t hn = hash64(in->names, (size_t)in->n * CATALOG_NAME_BYTES);
    uint64_t hc = hash64(j->class_names, (size_t)j->classes * CLS) ^
                  hash64(j->hclass, (size_t)in->n * sizeof(int32_t));
    snprintf(j->nm_key, sizeof j->nm_key, "split=%016llx/names=%016llx/classes=%016llx/ngram=%d/"
             "epochs=%d/lr=%g/l2=%g/seed=%lld", (unsigned long long)hs, (unsigned long long)hn,
             (unsigned long long)hc, cfg->similarity.ngram, NAME_EPOCHS, NAME_LR, NAME_L2,
             (long long)cfg->run.seed);
    snprintf(grp, sizeof grp, "/heads/name-%s", j->level);
    if (!force && catalog_is_complete(c, grp) && catalog_has_attr(c, grp, "key")) {
        TRY(catalog_get_attr_str(c, grp, "key", &key));
        if (!strcmp(key, j->nm_key)) {
            int64_t r = 0;
            j->nm.terms = name_index_terms(in->ix);
            j->nm.classes = j->classes;
            snprintf(p, sizeof p, "%s/w", grp);
            TRY(catalog_read_all(c, p, H5T_NATIVE_FLOAT, (void **)&j->nm.w, &r));
            REQUIRE(r == j->nm.terms, ST_DATA, "%s has %lld rows, the name index %lld terms; "
                    "rerun with --retrain-names", p, (long long)r, (long long)j->nm.terms);
            snprintf(p, sizeof p, "%s/b", grp);
            TRY(catalog_read_all(c, p, H5T_NATIVE_FLOAT, (void **)&j->nm.b, &r));
            log_info("classify", "%s: reusing name model %s", j->level, grp);
            goto fail;
        }
        log_info("classify", "%s: name model %s is stale (split, names or classes changed); "
                 "retraining", j->level, grp);
    }
    TRY_ALLOC(rows = malloc(((size_t)in->n + 1) * sizeof(int64_t)));
    TRY_ALLOC(ys = malloc(((size_t)in->n + 1) * sizeof(int32_t)));
    int64_t n = 0;
    for (int64_t i = 0; i < in->n; i++)
        if (in->split[i] == CLASSIFY_TRAIN && j->hclass[i] >= 0 &&
            in->status[i] != PRODUCT_REMOVED)
            rows[n] = i, ys[n++] = j->hclass[i];
    REQUIRE(n > 0, ST_DATA, "%s: level %s has no labelled training products in %s", catalog_path(c),
            j->level, in->split_name);
    double t0 = time_now();
    struct name_train_opts o = {NAME_EPOCHS, NAME_LR, NAME_L2, (uint64_t)cfg->run.seed};
    TRY(name_model_train(in->ix, rows, ys, n, j->classes, &o, &j->nm));
    j->nm_new = 1;
    log_info("classify", "%s: trained the name model on %lld products (%lld terms) in %.1f s",
             j->level, (long long)n, (long long)j->nm.terms, time_now() - t0);
fail:
    free(key);
    free(rows);
    free(ys);
    free(w);
    return rc;
}

/* Head logits, name logits and neighbour vote of this rank's rows. */
static int score_rows(const struct inputs *in, const struct config *cfg, struct job *j) {
    int rc = ST_OK;
    struct head_work hw = {0};
    int64_t nloc = in->r1 - in->r0;
    int C = j->classes;
    size_t nc = ((size_t)nloc + 1) * C;
    TRY_ALLOC(j->lh = calloc(nc, sizeof(float)));
    TRY_ALLOC(j->ln = calloc(nc, sizeof(float)));
    TRY_ALLOC(j->pk = calloc(nc, sizeof(float)));
    TRY_ALLOC(j->s = calloc(nc, sizeof(float)));
    TRY_ALLOC(j->has_knn = calloc((size_t)nloc + 1, 1));
    TRY_ALLOC(j->has_name = calloc((size_t)nloc + 1, 1));
    TRY(head_work_alloc(&j->shape, CLASSIFY_BLOCK, &hw));
    for (int64_t b = 0; b < nloc; b += CLASSIFY_BLOCK) {
        int64_t cnt = nloc - b < CLASSIFY_BLOCK ? nloc - b : CLASSIFY_BLOCK;
        head_forward(&j->shape, j->params, in->x + (size_t)b * in->dim, cnt, 0, NULL, NULL, &hw);
        memcpy(j->lh + (size_t)b * C, hw.logits, (size_t)cnt * C * sizeof(float));
    }
    for (int64_t i = 0; i < nloc; i++) {
        int64_t r = in->r0 + i;
        if (!in->usable[r]) continue;
        const int32_t *tt;
        const float *tw;
        j->has_name[i] = name_index_vector(in->ix, r, &tt, &tw) > 0;
        name_model_logits(&j->nm, in->ix, r, j->ln + (size_t)i * C);
        if (in->nb)
            j->has_knn[i] = classify_knn_vote(in->nb + (size_t)r * in->k, in->s_fused + (size_t)r * in->k,
                                              in->k, r, j->hclass, in->split, C,
                                              j->pk + (size_t)i * C) > 0;
    }
    j->w = (struct fusion_weights){cfg->classify.w_head, cfg->classify.w_knn, cfg->classify.w_name};
    j->w_mode = "fixed";
    j->w_val_top1 = j->w_val_top1_cfg = NAN;
fail:
    head_work_free(&hw);
    return rc;
}

struct nll_ctx {
    const float *s;
    const int32_t *y;
    int64_t n;
    int classes;
};

static double nll_cb(double t, void *p) {
    const struct nll_ctx *x = p;
    return classify_nll(x->s, x->y, x->n, x->classes, t);
}

/* Rows of this rank in `part` with a head-known label: combined scores (n, C)
 * into *s, classes into *y. */
static int local_part(const struct inputs *in, const struct job *j, int part, float **s,
                      int32_t **y, int64_t **idx, int64_t *n) {
    int64_t nloc = in->r1 - in->r0, k = 0;
    int C = j->classes;
    *s = malloc(((size_t)nloc + 1) * C * sizeof(float));
    *y = malloc(((size_t)nloc + 1) * sizeof(int32_t));
    *idx = malloc(((size_t)nloc + 1) * sizeof(int64_t));
    if (!*s || !*y || !*idx) return err_set(ST_ERR, "classify: out of memory");
    for (int64_t i = 0; i < nloc; i++) {
        int64_t r = in->r0 + i;
        if (in->split[r] != part || j->hclass[r] < 0 || !in->usable[r]) continue;
        memcpy(*s + (size_t)k * C, j->s + (size_t)i * C, sizeof(float) * C);
        (*y)[k] = j->hclass[r];
        (*idx)[k++] = i;
    }
    *n = k;
    return ST_OK;
}

/* Fits the temperature of the combined score on the validation rows of all
 * ranks (gathered in row order, so every rank fits the same T). */
static int fit_temperature(const struct inputs *in, struct job *j, double *ece_before,
                           double *ece_after, double *nll_before, double *nll_after, int64_t *nval) {
    int rc = ST_OK;
    float *s = NULL, *all_s = NULL, *lg = NULL;
    int32_t *y = NULL, *all_y = NULL;
    int64_t *idx = NULL, *counts = NULL, n = 0;
    int *rc_s = NULL, *dp_s = NULL, *rc_y = NULL, *dp_y = NULL;
    struct eval_stats st = {0};
    struct eval_metrics m = {0};
    int C = j->classes, P = dist_size();
    TRY(local_part(in, j, CLASSIFY_VAL, &s, &y, &idx, &n));
    TRY_ALLOC(counts = malloc(sizeof(int64_t) * P));
    TRY(dist_allgather_i64(&n, 1, counts));
    TRY_ALLOC(rc_s = malloc(sizeof(int) * P * 4));
    dp_s = rc_s + P, rc_y = rc_s + 2 * P, dp_y = rc_s + 3 * P;
    int64_t tot = 0;
    for (int r = 0; r < P; r++) {
        REQUIRE((tot + counts[r]) * C < 2147483647, ST_ERR, "classify: validation set too large");
        rc_s[r] = (int)(counts[r] * C), dp_s[r] = (int)(tot * C);
        rc_y[r] = (int)counts[r], dp_y[r] = (int)tot;
        tot += counts[r];
    }
    *nval = tot;
    j->t = 1.0;
    *ece_before = *ece_after = *nll_before = *nll_after = NAN;
    if (tot == 0) goto fail;
    TRY_ALLOC(all_s = malloc(sizeof(float) * (size_t)tot * C));
    TRY_ALLOC(all_y = malloc(sizeof(int32_t) * (size_t)tot));
    TRY_MPI(MPI_Allgatherv(s, (int)(n * C), MPI_FLOAT, all_s, rc_s, dp_s, MPI_FLOAT, dist_comm()));
    TRY_MPI(MPI_Allgatherv(y, (int)n, MPI_INT32_T, all_y, rc_y, dp_y, MPI_INT32_T, dist_comm()));
    struct nll_ctx ctx = {all_s, all_y, tot, C};
    j->t = temperature_fit(nll_cb, &ctx);
    *nll_before = classify_nll(all_s, all_y, tot, C, 1.0) / tot;
    *nll_after = classify_nll(all_s, all_y, tot, C, j->t) / tot;
    TRY_ALLOC(lg = malloc(sizeof(float) * (size_t)tot * C));
    for (size_t i = 0; i < (size_t)tot * C; i++)
        lg[i] = (float)log(all_s[i] > CLASSIFY_FLOOR ? all_s[i] : CLASSIFY_FLOOR);
    TRY(eval_stats_init(&st, C));
    eval_accumulate(&st, lg, all_y, tot, 1.0);
    TRY(eval_finish(&st, &m));
    *ece_before = m.ece;
    eval_metrics_free(&m);
    eval_stats_reset(&st);
    eval_accumulate(&st, lg, all_y, tot, j->t);
    TRY(eval_finish(&st, &m));
    *ece_after = m.ece;
fail:
    free(s), free(y), free(idx), free(counts), free(all_s), free(all_y), free(lg), free(rc_s);
    eval_metrics_free(&m);
    eval_stats_free(&st);
    return rc;
}

/* The name and vote distributions of local row i as the combination sees
 * them: raw (T = 1), or temperature-scaled when j->src_cal. */
static void row_sources(const struct job *j, int64_t i, float *ph, float *pk, float *pn) {
    int C = j->classes;
    classify_softmax(j->lh + (size_t)i * C, C, j->t_head, ph);
    classify_softmax(j->ln + (size_t)i * C, C, j->src_cal ? j->t_name : 1.0, pn);
    if (j->src_cal) classify_calibrate(j->pk + (size_t)i * C, C, j->t_knn, pk);
    else memcpy(pk, j->pk + (size_t)i * C, sizeof(float) * C);
}

/* Combined score s of this rank's rows with the weights j->w. */
static int combine_rows(const struct inputs *in, struct job *j) {
    int rc = ST_OK;
    int64_t nloc = in->r1 - in->r0;
    int C = j->classes;
    float *ph = NULL, *pk = NULL, *pn = NULL;
    TRY_ALLOC(ph = malloc(sizeof(float) * C));
    TRY_ALLOC(pk = malloc(sizeof(float) * C));
    TRY_ALLOC(pn = malloc(sizeof(float) * C));
    for (int64_t i = 0; i < nloc; i++) {
        if (!in->usable[in->r0 + i]) continue;
        row_sources(j, i, ph, pk, pn);
        classify_combine(ph, j->has_knn[i] ? pk : NULL, j->has_name[i] ? pn : NULL, j->w.head,
                         j->w.knn, j->w.name, C, j->s + (size_t)i * C);
    }
fail:
    free(ph), free(pk), free(pn);
    return rc;
}

/* This rank's labelled validation rows with the sources as row_sources
 * gives them (buffers sized by the caller for every local row). */
static int64_t val_rows(const struct inputs *in, const struct job *j, float *ph, float *pk,
                        float *pn, uint8_t *hk, uint8_t *hn, int32_t *y) {
    int64_t nloc = in->r1 - in->r0, n = 0;
    int C = j->classes;
    for (int64_t i = 0; i < nloc; i++) {
        int64_t r = in->r0 + i;
        if (in->split[r] != CLASSIFY_VAL || j->hclass[r] < 0 || !in->usable[r]) continue;
        row_sources(j, i, ph + (size_t)n * C, pk + (size_t)n * C, pn + (size_t)n * C);
        hk[n] = j->has_knn[i], hn[n] = j->has_name[i], y[n] = j->hclass[r];
        n++;
    }
    return n;
}

/* Temperature of one source on the validation rows of all ranks: p (n, C)
 * probabilities, rows with present[i] == 0 skipped; gathered in row order,
 * so every rank fits the same T. 1 when no row is present. */
static int fit_source_t(const float *p, const uint8_t *present, const int32_t *y, int64_t n,
                        int C, double *t) {
    int rc = ST_OK;
    int P = dist_size();
    float *s = NULL, *all_s = NULL;
    int32_t *ys = NULL, *all_y = NULL;
    int64_t *counts = NULL, k = 0;
    int *cnt = NULL;
    *t = 1.0;
    TRY_ALLOC(s = malloc(((size_t)n + 1) * C * sizeof(float)));
    TRY_ALLOC(ys = malloc(((size_t)n + 1) * sizeof(int32_t)));
    for (int64_t i = 0; i < n; i++)
        if (present[i]) {
            memcpy(s + (size_t)k * C, p + (size_t)i * C, sizeof(float) * C);
            ys[k++] = y[i];
        }
    TRY_ALLOC(counts = malloc(sizeof(int64_t) * P));
    TRY(dist_allgather_i64(&k, 1, counts));
    TRY_ALLOC(cnt = malloc(sizeof(int) * P * 4));
    int64_t tot = 0;
    for (int r = 0; r < P; r++) {
        REQUIRE((tot + counts[r]) * C < 2147483647, ST_ERR, "classify: validation set too large");
        cnt[r] = (int)(counts[r] * C), cnt[P + r] = (int)(tot * C);
        cnt[2 * P + r] = (int)counts[r], cnt[3 * P + r] = (int)tot;
        tot += counts[r];
    }
    if (tot == 0) goto fail;
    TRY_ALLOC(all_s = malloc(sizeof(float) * (size_t)tot * C));
    TRY_ALLOC(all_y = malloc(sizeof(int32_t) * (size_t)tot));
    TRY_MPI(MPI_Allgatherv(s, (int)(k * C), MPI_FLOAT, all_s, cnt, cnt + P, MPI_FLOAT, dist_comm()));
    TRY_MPI(MPI_Allgatherv(ys, (int)k, MPI_INT32_T, all_y, cnt + 2 * P, cnt + 3 * P, MPI_INT32_T,
                           dist_comm()));
    struct nll_ctx ctx = {all_s, all_y, tot, C};
    *t = temperature_fit(nll_cb, &ctx);
fail:
    free(s), free(ys), free(counts), free(cnt), free(all_s), free(all_y);
    return rc;
}

/* Grid search over the validation rows of all ranks with the sources as
 * they are now (j->src_cal): best point into *w, counts of the best point and
 * of the configured weights, and the number of rows. */
/* This rank's labelled validation rows, as the weight search and the source
 * calibration see them: the three source distributions (n, C) with the
 * current source temperatures applied, the "has a vote / name" flags and the
 * labels (n). */
struct val_set {
    int64_t n;
    float *ph, *pk, *pn;
    uint8_t *hk, *hn;
    int32_t *y;
};

static void val_set_free(struct val_set *v) {
    free(v->ph), free(v->pk), free(v->pn), free(v->hk), free(v->hn), free(v->y);
    memset(v, 0, sizeof *v);
}

/* Allocates v for every local row and fills it with val_rows(). On failure v
 * is freed and zeroed. */
static int val_set_load(const struct inputs *in, const struct job *j, struct val_set *v) {
    int rc = ST_OK;
    int64_t nloc = in->r1 - in->r0;
    size_t nc = ((size_t)nloc + 1) * j->classes;
    memset(v, 0, sizeof *v);
    TRY_ALLOC(v->ph = malloc(nc * sizeof(float)));
    TRY_ALLOC(v->pk = malloc(nc * sizeof(float)));
    TRY_ALLOC(v->pn = malloc(nc * sizeof(float)));
    TRY_ALLOC(v->hk = malloc((size_t)nloc + 1));
    TRY_ALLOC(v->hn = malloc((size_t)nloc + 1));
    TRY_ALLOC(v->y = malloc(((size_t)nloc + 1) * sizeof(int32_t)));
    v->n = val_rows(in, j, v->ph, v->pk, v->pn, v->hk, v->hn, v->y);
    return ST_OK;
fail:
    val_set_free(v);
    return rc;
}

static int search_once(const struct inputs *in, const struct job *j, int steps,
                       const struct fusion_weights *cfg_w, struct fusion_weights *w,
                       double *best_ok, double *cfg_ok, double *n_val) {
    int rc = ST_OK;
    struct val_set v = {0};
    double *correct = NULL;
    int g = weights_grid_count(steps);
    TRY(val_set_load(in, j, &v));
    TRY_ALLOC(correct = calloc((size_t)g + 2, sizeof(double)));
    struct fusion_rows fr = {v.n, j->classes, v.ph, v.pk, v.pn, v.hk, v.hn, v.y};
    TRY(weights_grid_correct(&fr, steps, correct));
    int64_t ok = weights_correct(&fr, cfg_w);
    REQUIRE(ok >= 0, ST_ERR, "classify: out of memory for the weight search");
    correct[g] = (double)ok;
    correct[g + 1] = (double)v.n;
    TRY(dist_allreduce_sum_f64(correct, g + 2));
    int best = weights_grid_best(correct, steps, cfg_w);
    weights_grid_point(steps, best, w);
    *best_ok = correct[best], *cfg_ok = correct[g], *n_val = correct[g + 1];
fail:
    val_set_free(&v);
    free(correct);
    return rc;
}

/* classify.weights = search: the grid point with the best validation top-1
 * (weights.h). Counts are whole numbers summed over ranks, so the choice is
 * the same for any rank count. classify.source_calibration = auto also fits
 * a temperature to the name and vote distributions on validation (NLL, as
 * the head's) and searches again; the calibrated sources are kept only when
 * their best validation top-1 is strictly higher (= on: always). No labelled validation
 * row: the configured weights stay, with a warning. */
static int choose_weights(const struct inputs *in, const struct config *cfg, struct job *j) {
    int rc = ST_OK;
    int C = j->classes;
    struct val_set v = {0};
    const char *mode = cfg->classify.weights ? cfg->classify.weights : "search";
    const char *cal = cfg->classify.source_calibration ? cfg->classify.source_calibration : "auto";
    j->t_name = j->t_knn = 1.0;
    j->src_cal = 0;
    j->w_val_top1_raw = j->w_val_top1_srccal = NAN;
    if (strcmp(mode, "search")) goto fail;
    double step = cfg->classify.weight_step;
    int steps = (int)lround(1.0 / step);
    REQUIRE(steps >= 1 && fabs(steps * step - 1.0) < 1e-6, ST_USAGE,
            "classify.weight_step = %g: 1/step must be a whole number (e.g. 0.1, 0.05, 0.25)", step);
    struct fusion_weights cfg_w = j->w, w_raw, w_cal;
    double ok_raw = 0, ok_cfg = 0, n = 0, ok_cal = -1, ok_cfg_cal = 0;
    TRY(search_once(in, j, steps, &cfg_w, &w_raw, &ok_raw, &ok_cfg, &n));
    j->w_val_n = (int64_t)n;
    if (j->w_val_n == 0) {
        log_warn("classify", "%s: no labelled validation products in %s: classify.weights=search "
                 "keeps the configured weights", j->level, in->split_name);
        goto fail;
    }
    j->w_val_top1_raw = ok_raw / n;
    if (!strcmp(cal, "auto") || !strcmp(cal, "on")) {
        TRY(val_set_load(in, j, &v)); /* raw sources: j->src_cal is still 0 */
        double tn = 1, tk = 1;
        TRY(fit_source_t(v.pn, v.hn, v.y, v.n, C, &tn));
        TRY(fit_source_t(v.pk, v.hk, v.y, v.n, C, &tk));
        j->t_name = tn, j->t_knn = tk, j->src_cal = 1;
        TRY(search_once(in, j, steps, &cfg_w, &w_cal, &ok_cal, &ok_cfg_cal, &n));
        j->w_val_top1_srccal = ok_cal / n;
        log_info("classify", "%s: source temperatures on validation: name %.3f, knn %.3f; best val "
                 "top-1 raw %.4f, calibrated %.4f -> %s sources", j->level, tn, tk, ok_raw / n,
                 ok_cal / n, ok_cal > ok_raw || !strcmp(cal, "on") ? "calibrated" : "raw");
        if (!(ok_cal > ok_raw) && strcmp(cal, "on")) j->src_cal = 0;
    }
    j->w = j->src_cal ? w_cal : w_raw;
    j->w_mode = "search";
    j->w_val_top1 = (j->src_cal ? ok_cal : ok_raw) / n;
    j->w_val_top1_cfg = ok_cfg / n; /* raw sources, as classify.weights=fixed would use them */
    log_info("classify", "%s: weights chosen on validation (n=%lld, %d grid points, step %g): "
             "head %.2f knn %.2f name %.2f, val top-1 %.4f (configured %.2g/%.2g/%.2g: %.4f)",
             j->level, (long long)j->w_val_n, weights_grid_count(steps), step, j->w.head,
             j->w.knn, j->w.name, j->w_val_top1, cfg_w.head, cfg_w.knn, cfg_w.name,
             j->w_val_top1_cfg);
fail:
    val_set_free(&v);
    return rc;
}

/* Final distribution, top-3, prediction and flags of this rank's rows. */
static int finish_rows(const struct inputs *in, const struct config *cfg, struct job *j) {
    int rc = ST_OK;
    int64_t nloc = in->r1 - in->r0;
    int C = j->classes;
    float *q = NULL;
    TRY_ALLOC(q = malloc(sizeof(float) * C));
    TRY_ALLOC(j->pred = malloc(((size_t)nloc + 1) * sizeof(int32_t)));
    TRY_ALLOC(j->conf = calloc((size_t)nloc + 1, sizeof(float)));
    TRY_ALLOC(j->top3 = malloc(((size_t)nloc + 1) * CLASSIFY_TOPK * sizeof(int32_t)));
    TRY_ALLOC(j->top3s = calloc(((size_t)nloc + 1) * CLASSIFY_TOPK, sizeof(float)));
    TRY_ALLOC(j->flags = calloc((size_t)nloc + 1, 1));
    for (int64_t i = 0; i < nloc; i++) {
        int64_t r = in->r0 + i;
        int64_t gsz = in->gsz ? in->gsz[r] : 1;
        int32_t *top = j->top3 + (size_t)i * CLASSIFY_TOPK;
        float *ts = j->top3s + (size_t)i * CLASSIFY_TOPK;
        if (!in->usable[r]) {
            j->pred[i] = -1;
            for (int t = 0; t < CLASSIFY_TOPK; t++) top[t] = -1, ts[t] = 0;
        } else {
            classify_calibrate(j->s + (size_t)i * C, C, j->t, q);
            classify_top(q, C, top, ts);
            j->pred[i] = top[0];
            j->conf[i] = ts[0];
        }
        j->flags[i] = classify_flags(j->pred[i], j->conf[i], j->hclass[r], gsz,
                                     cfg->classify.review_threshold, cfg->classify.mislabel_threshold);
    }
fail:
    free(q);
    return rc;
}

/* Metrics of one source: "logits" (n_local, C) at temperature t over this
 * rank's rows of split `part`, summed over ranks; appends
 * "name":{"n","top1","macro_f1",...} and returns top-1 and macro-F1. */
static int source_metrics(const struct inputs *in, const struct job *j, int part,
                          const float *logits, int use_log, double t, struct sbuf *js,
                          const char *name, double *top1, double *f1) {
    int rc = ST_OK;
    int64_t nloc = in->r1 - in->r0, k = 0;
    int C = j->classes;
    float *lg = NULL;
    int32_t *y = NULL;
    struct eval_stats st = {0};
    struct eval_metrics m = {0};
    TRY_ALLOC(lg = malloc(((size_t)nloc + 1) * C * sizeof(float)));
    TRY_ALLOC(y = malloc(((size_t)nloc + 1) * sizeof(int32_t)));
    for (int64_t i = 0; i < nloc; i++) {
        int64_t r = in->r0 + i;
        if (in->split[r] != part || j->hclass[r] < 0 || !in->usable[r]) continue;
        for (int c = 0; c < C; c++) {
            float v = logits[(size_t)i * C + c];
            lg[(size_t)k * C + c] = use_log ? (float)log(v > CLASSIFY_FLOOR ? v : CLASSIFY_FLOOR) : v;
        }
        y[k++] = j->hclass[r];
    }
    TRY(eval_stats_init(&st, C));
    eval_accumulate(&st, lg, y, k, t);
    TRY(dist_allreduce_sum_f64(st.buf, st.count));
    TRY(eval_finish(&st, &m));
    sb_printf(js, "\"%s\":{\"n\":%.0f,\"top1\":", name, m.n);
    sb_json_num(js, m.top1);
    sb_printf(js, ",\"macro_f1\":");
    sb_json_num(js, m.macro_f1);
    sb_printf(js, ",\"top3_or_5\":");
    sb_json_num(js, m.top5);
    sb_printf(js, ",\"log_loss\":");
    sb_json_num(js, m.log_loss);
    sb_printf(js, ",\"ece\":");
    sb_json_num(js, m.ece);
    sb_printf(js, "}");
    if (top1) *top1 = m.top1;
    if (f1) *f1 = m.macro_f1;
fail:
    free(lg), free(y);
    eval_metrics_free(&m);
    eval_stats_free(&st);
    return rc;
}

/* Top-1 / macro-F1 of the sources of one split part, for the log line. */
struct part_summary {
    double n, top1[4], f1[4]; /* image, name, knn, fused */
    double needs_review, rest, accuracy_rest;
};

/* The metrics object of split `part` (val or test): the sources, the fused
 * score before/after calibration, kNN coverage, needs_review and the accuracy
 * on the rest. Appends {...} to js; *sum gets the numbers for the log. */
static int part_metrics(const struct inputs *in, const struct job *j, int part, struct sbuf *js,
                        struct part_summary *sum) {
    int rc = ST_OK;
    int64_t nloc = in->r1 - in->r0;
    /* n, needs_review, correct among the rest, knn coverage, rest */
    double cnt[5] = {0};
    for (int64_t i = 0; i < nloc; i++) {
        int64_t r = in->r0 + i;
        if (in->split[r] != part || j->hclass[r] < 0 || !in->usable[r]) continue;
        cnt[0] += 1;
        cnt[3] += j->has_knn[i];
        if (j->flags[i] & FLAG_NEEDS_REVIEW) cnt[1] += 1;
        else cnt[2] += j->pred[i] == j->hclass[r], cnt[4] += 1;
    }
    TRY(dist_allreduce_sum_f64(cnt, 5));
    sb_printf(js, "{");
    TRY(source_metrics(in, j, part, j->lh, 0, j->t_head, js, "image", &sum->top1[0], &sum->f1[0]));
    sb_printf(js, ",");
    TRY(source_metrics(in, j, part, j->ln, 0, 1.0, js, "name", &sum->top1[1], &sum->f1[1]));
    sb_printf(js, ",");
    TRY(source_metrics(in, j, part, j->pk, 1, 1.0, js, "knn", &sum->top1[2], &sum->f1[2]));
    sb_printf(js, ",");
    TRY(source_metrics(in, j, part, j->s, 1, 1.0, js, "fused_uncalibrated", NULL, NULL));
    sb_printf(js, ",");
    TRY(source_metrics(in, j, part, j->s, 1, j->t, js, "fused", &sum->top1[3], &sum->f1[3]));
    sum->n = cnt[0];
    sum->needs_review = cnt[1];
    sum->rest = cnt[4];
    sum->accuracy_rest = cnt[4] > 0 ? cnt[2] / cnt[4] : NAN;
    sb_printf(js, ",\"knn_coverage\":");
    sb_json_num(js, cnt[0] > 0 ? cnt[3] / cnt[0] : NAN);
    sb_printf(js, ",\"needs_review\":%.0f,\"rest\":%.0f,\"accuracy_rest\":", cnt[1], cnt[4]);
    sb_json_num(js, sum->accuracy_rest);
    sb_printf(js, "}");
fail:
    return rc;
}

static void log_part(const struct job *j, const char *part, const struct part_summary *s) {
    log_info("classify", "%s %s (n=%.0f): top-1 image %.4f name %.4f knn %.4f fused %.4f; "
             "macro-F1 image %.4f name %.4f knn %.4f fused %.4f; needs_review %.0f, accuracy on "
             "the rest %.4f", j->level, part, s->n, s->top1[0], s->top1[1], s->top1[2],
             s->top1[3], s->f1[0], s->f1[1], s->f1[2], s->f1[3], s->needs_review,
             s->accuracy_rest);
}

/* Metrics of one level (validation and test splits) as JSON. */
static int level_metrics(const struct inputs *in, struct job *j, struct sbuf *js, double eb,
                         double ea, double nb, double na, int64_t nval) {
    int rc = ST_OK;
    int64_t nloc = in->r1 - in->r0;
    struct part_summary sv = {0}, st = {0};
    /* over every classified product: classified, needs_review, suspected_mislabel */
    double all[3] = {0};
    for (int64_t i = 0; i < nloc; i++) {
        if (j->pred[i] < 0) continue;
        all[0] += 1;
        all[1] += (j->flags[i] & FLAG_NEEDS_REVIEW) != 0;
        all[2] += (j->flags[i] & FLAG_SUSPECTED_MISLABEL) != 0;
    }
    TRY(dist_allreduce_sum_f64(all, 3));
    sb_printf(js, "\"%s\":{\"head\":", j->level);
    sb_json_str(js, j->head_name);
    sb_printf(js, ",\"classes\":%d,\"head_temperature\":", j->classes);
    sb_json_num(js, j->t_head);
    sb_printf(js, ",\"weights\":{\"mode\":");
    sb_json_str(js, j->w_mode);
    sb_printf(js, ",\"head\":%.6g,\"knn\":%.6g,\"name\":%.6g,\"val_n\":%lld,\"val_top1\":",
              j->w.head, j->w.knn, j->w.name, (long long)j->w_val_n);
    sb_json_num(js, j->w_val_top1);
    sb_printf(js, ",\"val_top1_configured\":");
    sb_json_num(js, j->w_val_top1_cfg);
    sb_printf(js, ",\"sources_calibrated\":%s,\"name_temperature\":", j->src_cal ? "true" : "false");
    sb_json_num(js, j->t_name);
    sb_printf(js, ",\"knn_temperature\":");
    sb_json_num(js, j->t_knn);
    sb_printf(js, ",\"val_top1_raw_sources\":");
    sb_json_num(js, j->w_val_top1_raw);
    sb_printf(js, ",\"val_top1_calibrated_sources\":");
    sb_json_num(js, j->w_val_top1_srccal);
    sb_printf(js, "},\"name_model\":{\"retrained\":%s,\"terms\":%lld,\"key\":",
              j->nm_new ? "true" : "false", (long long)j->nm.terms);
    sb_json_str(js, j->nm_key);
    sb_printf(js, "},\"calibration\":{\"method\":\"temperature\",\"val_n\":%lld,\"temperature\":",
              (long long)nval);
    sb_json_num(js, j->t);
    sb_printf(js, ",\"val_ece_before\":");
    sb_json_num(js, eb);
    sb_printf(js, ",\"val_ece_after\":");
    sb_json_num(js, ea);
    sb_printf(js, ",\"val_log_loss_before\":");
    sb_json_num(js, nb);
    sb_printf(js, ",\"val_log_loss_after\":");
    sb_json_num(js, na);
    sb_printf(js, "},\"val\":");
    TRY(part_metrics(in, j, CLASSIFY_VAL, js, &sv));
    sb_printf(js, ",\"test\":");
    TRY(part_metrics(in, j, CLASSIFY_TEST, js, &st));
    sb_printf(js, ",\"all\":{\"classified\":%.0f,\"needs_review\":%.0f,\"suspected_mislabel\":%.0f}}",
              all[0], all[1], all[2]);
    j->val_top1 = sv.top1[3];
    j->test_top1 = st.top1[3];
    log_part(j, "val", &sv);
    log_part(j, "test", &st);
    log_info("classify", "%s: weights (%s) head %.2f knn %.2f name %.2f, %s sources; T %.3f, val "
             "ECE %.4f -> %.4f", j->level, j->w_mode, j->w.head, j->w.knn, j->w.name,
             j->src_cal ? "calibrated" : "raw", j->t, eb, ea);
fail:
    return rc;
}

/* Creates a (n[, cols]) dataset and writes this rank's rows. */
static int write_rows(struct catalog *c, const char *grp, const char *name, hid_t type,
                      const struct inputs *in, int cols, const void *buf) {
    int rc = ST_OK;
    char p[4 * CLS];
    snprintf(p, sizeof p, "%s/%s", grp, name);
    hsize_t dims[2] = {(hsize_t)in->n, (hsize_t)cols};
    TRY(catalog_create_dataset(c, p, type, cols > 0 ? 2 : 1, dims, NULL, 0, 0));
    TRY(catalog_write_rows(c, p, type, in->r0, in->r1 - in->r0, buf));
fail:
    return rc;
}

static int write_level(struct catalog *c, const char *run_grp, const struct inputs *in,
                       const struct config *cfg, const char *run_id, struct job *j) {
    int rc = ST_OK;
    char grp[3 * CLS], p[4 * CLS];
    hid_t t = -1;
    TRY_H5(t = catalog_str_type(CLS));
    snprintf(grp, sizeof grp, "%s/%s", run_grp, j->level);
    TRY(write_rows(c, grp, "pred", H5T_NATIVE_INT32, in, 0, j->pred));
    TRY(write_rows(c, grp, "confidence", H5T_NATIVE_FLOAT, in, 0, j->conf));
    TRY(write_rows(c, grp, "top3", H5T_NATIVE_INT32, in, CLASSIFY_TOPK, j->top3));
    TRY(write_rows(c, grp, "top3_scores", H5T_NATIVE_FLOAT, in, CLASSIFY_TOPK, j->top3s));
    TRY(write_rows(c, grp, "flags", H5T_NATIVE_UINT8, in, 0, j->flags));
    hsize_t dc[1] = {(hsize_t)j->classes};
    snprintf(p, sizeof p, "%s/classes", grp);
    TRY(catalog_write_small(c, p, t, 1, dc, j->class_names));
    TRY(catalog_set_attr_str(c, grp, "level", j->level));
    TRY(catalog_set_attr_str(c, grp, "head", j->head_name));
    TRY(catalog_set_attr_f64(c, grp, "head_temperature", j->t_head));
    TRY(catalog_set_attr_f64(c, grp, "temperature", j->t));
    char nm[2 * CLS];
    snprintf(nm, sizeof nm, "name-%s", j->level);
    TRY(catalog_set_attr_str(c, grp, "name_model", nm));
    TRY(catalog_set_attr_str(c, grp, "weights", j->w_mode));
    TRY(catalog_set_attr_f64(c, grp, "w_head", j->w.head));
    TRY(catalog_set_attr_f64(c, grp, "w_knn", j->w.knn));
    TRY(catalog_set_attr_f64(c, grp, "w_name", j->w.name));
    TRY(catalog_set_attr_i64(c, grp, "sources_calibrated", j->src_cal));
    TRY(catalog_set_attr_f64(c, grp, "name_temperature", j->src_cal ? j->t_name : 1.0));
    TRY(catalog_set_attr_f64(c, grp, "knn_temperature", j->src_cal ? j->t_knn : 1.0));
    TRY(catalog_set_attr_f64(c, grp, "val_top1", j->val_top1));
    TRY(catalog_set_attr_f64(c, grp, "test_top1", j->test_top1));
    TRY(catalog_set_attr_str(c, grp, "flags_bits", "1 needs_review, 2 suspected_mislabel, "
                             "4 duplicate (group_size >= 2), 8 not_classified (pred -1)"));
    TRY(catalog_mark_complete(c, grp));
    if (j->nm_new) {
        char hg[2 * CLS];
        snprintf(hg, sizeof hg, "/heads/name-%s", j->level);
        TRY(catalog_delete(c, hg));
        hsize_t dw[2] = {(hsize_t)j->nm.terms, (hsize_t)j->classes};
        snprintf(p, sizeof p, "%s/w", hg);
        TRY(catalog_write_small(c, p, H5T_NATIVE_FLOAT, 2, dw, j->nm.w));
        snprintf(p, sizeof p, "%s/b", hg);
        TRY(catalog_write_small(c, p, H5T_NATIVE_FLOAT, 1, dc, j->nm.b));
        snprintf(p, sizeof p, "%s/classes", hg);
        TRY(catalog_write_small(c, p, t, 1, dc, j->class_names));
        TRY(catalog_set_attr_str(c, hg, "level", j->level));
        TRY(catalog_set_attr_str(c, hg, "head", "name-softmax"));
        TRY(catalog_set_attr_str(c, hg, "key", j->nm_key));
        TRY(catalog_set_attr_str(c, hg, "split", in->split_name));
        TRY(catalog_set_attr_str(c, hg, "run_id", run_id));
        TRY(catalog_set_attr_i64(c, hg, "terms", j->nm.terms));
        TRY(catalog_set_attr_i64(c, hg, "classes", j->classes));
        TRY(catalog_set_attr_i64(c, hg, "ngram", cfg->similarity.ngram));
        TRY(catalog_set_attr_i64(c, hg, "epochs", NAME_EPOCHS));
        TRY(catalog_mark_complete(c, hg));
    }
fail:
    if (t >= 0) H5Tclose(t);
    return rc;
}

/* Gathers every rank's text on rank 0 (rank order = row order). */
static int gather_text(const struct sbuf *b, char **out, size_t *len) {
    int rc = ST_OK;
    int P = dist_size();
    int64_t mine = (int64_t)b->len, *lens = NULL;
    int *cnt = NULL, *disp = NULL;
    *out = NULL;
    TRY_ALLOC(lens = malloc(sizeof(int64_t) * P));
    TRY(dist_allgather_i64(&mine, 1, lens));
    TRY_ALLOC(cnt = malloc(sizeof(int) * P * 2));
    disp = cnt + P;
    int64_t tot = 0;
    for (int r = 0; r < P; r++) {
        REQUIRE(tot + lens[r] < 2147483647, ST_ERR, "classify: export larger than 2 GiB");
        cnt[r] = (int)lens[r], disp[r] = (int)tot, tot += lens[r];
    }
    if (dist_rank() == 0) TRY_ALLOC(*out = malloc((size_t)tot + 1));
    TRY_MPI(MPI_Gatherv(b->s ? b->s : "", (int)mine, MPI_CHAR, *out, cnt, disp, MPI_CHAR, 0,
                        dist_comm()));
    if (*out) (*out)[tot] = '\0';
    *len = (size_t)tot;
fail:
    free(lens), free(cnt);
    return rc;
}

/* Writes <dir>/<base>-<run>.<ext> and <dir>/<base>.<ext> atomically (rank 0). */
static int write_export(const char *dir, const char *run_id, const char *ext, const char *text,
                        size_t len) {
    int rc = ST_OK;
    char p[FS_PATH_MAX + 128];
    snprintf(p, sizeof p, "%s/predictions-%s.%s", dir, run_id, ext);
    TRY(fs_write_atomic(p, text, len));
    snprintf(p, sizeof p, "%s/predictions.%s", dir, ext);
    TRY(fs_write_atomic(p, text, len));
fail:
    return rc;
}

static int export_all(const struct classify_request *req, const struct config *cfg,
                      const struct inputs *in, struct job *jobs, int n_jobs, const char *run_id) {
    int rc = ST_OK;
    struct sbuf csv = {0}, js = {0};
    struct export_level *lv = NULL;
    char *all_csv = NULL, *all_js = NULL;
    size_t lc = 0, lj = 0;
    char dir[FS_PATH_MAX];
    TRY_ALLOC(lv = calloc((size_t)n_jobs, sizeof *lv));
    for (int i = 0; i < n_jobs; i++)
        lv[i] = (struct export_level){jobs[i].level, jobs[i].li, jobs[i].class_names,
                                      jobs[i].classes, jobs[i].orig, jobs[i].orig_count,
                                      jobs[i].pred, jobs[i].conf, jobs[i].top3, jobs[i].top3s,
                                      jobs[i].flags};
    struct export_view v = {in->r0, in->r1 - in->r0, in->ids, in->names, in->status, in->labels,
                            in->n_levels, n_jobs, lv, in->nb ? in->k : 0, in->nb, in->s_img,
                            in->s_name, in->s_fused, in->gid, in->gsz};
    if (dist_rank() == 0) export_csv_header(&v, &csv);
    export_rows(&v, &csv, &js);
    REQUIRE(!csv.oom && !js.oom, ST_ERR, "classify: out of memory for the exports");
    TRY(gather_text(&csv, &all_csv, &lc));
    TRY(gather_text(&js, &all_js, &lj));
    int wr = ST_OK;
    if (dist_rank() == 0) {
        if (cfg->classify.out_dir && *cfg->classify.out_dir)
            snprintf(dir, sizeof dir, "%s", cfg->classify.out_dir);
        else
            fs_dirname(req->catalog, dir, sizeof dir);
        wr = fs_mkdir_p(dir);
        if (wr == ST_OK) wr = write_export(dir, run_id, "csv", all_csv, lc);
        if (wr == ST_OK) wr = write_export(dir, run_id, "jsonl", all_js, lj);
        if (wr == ST_OK)
            log_info("classify", "exported %s/predictions-%s.csv and .jsonl (and predictions.csv, "
                     "predictions.jsonl)", dir, run_id);
    }
    TRY(dist_agree(wr));
fail:
    sb_free(&csv), sb_free(&js);
    free(lv), free(all_csv), free(all_js);
    return rc;
}

/* The split: /splits/<finest level with a head>, else the first one there is. */
static int load_split(struct catalog *c, struct inputs *in, int finest) {
    int rc = ST_OK;
    char **names = NULL;
    int nn = 0;
    int64_t rows = 0;
    snprintf(in->split_name, sizeof in->split_name, "/splits/%.*s", CLS,
             in->levels + (size_t)finest * CLS);
    if (!catalog_exists(c, in->split_name)) {
        TRY(catalog_list(c, "/splits", &names, &nn));
        REQUIRE(nn > 0, ST_DATA, "%s: no split under /splits; run `assort train %s` first",
                catalog_path(c), catalog_path(c));
        snprintf(in->split_name, sizeof in->split_name, "/splits/%s", names[0]);
    }
    TRY(catalog_read_all(c, in->split_name, H5T_NATIVE_INT8, (void **)&in->split, &rows));
    REQUIRE(rows == in->n, ST_DATA, "%s: %s has %lld rows, the catalog %lld; rerun `assort train`",
            catalog_path(c), in->split_name, (long long)rows, (long long)in->n);
fail:
    catalog_list_free(names, nn);
    return rc;
}

/* Stop point before level `done` + 1 and before the writes (collective):
 * nothing is committed until the end, so a stop leaves the catalog as it was. */
static int stop_point(int done, int levels) {
    int rc = ST_OK, stop = 0;
    if (fault_armed()) TRY(dist_agree(fault_point("classify.level"))); /* tests only */
    TRY(signals_stop_agreed(&stop));
    REQUIRE(!stop, ST_INTERRUPTED, "stopped by a signal after %d of %d level(s); nothing was "
            "written (classify keeps no checkpoint: rerun the same command)", done, levels);
fail:
    return rc;
}

int classify_catalog(const struct classify_request *req, const struct config *cfg,
                     char run_id[96]) {
    int rc = ST_OK, began = 0, run_open = 0;
    struct catalog_txn txn;
    struct run_record run;
    struct inputs in = {0};
    struct job *jobs = NULL;
    int n_jobs = 0;
    struct sbuf js = {0};
    double t0 = time_now();
    const char *head = req->head ? req->head : cfg->train.head && *cfg->train.head ? cfg->train.head
                                                                                 : "linear";
    const char *weights_mode = cfg->classify.weights && *cfg->classify.weights
                                   ? cfg->classify.weights : "search";
    run_id[0] = '\0';
    int threads = cfg->run.threads > 0 ? cfg->run.threads
                                       : (int)(sysconf(_SC_NPROCESSORS_ONLN) / dist_local_size());
    openblas_set_num_threads(threads > 0 ? threads : 1);
    TRY(dist_agree(catalog_begin(req->catalog, "classify", 0, &txn)));
    began = 1;
    struct catalog *c = txn.cat;
    TRY(dist_agree(load_inputs(c, req, cfg, &in)));
    /* levels with a complete head */
    TRY_ALLOC(jobs = calloc((size_t)in.n_levels, sizeof *jobs));
    int finest = -1, asked = -1;
    for (int l = 0; l < in.n_levels; l++) {
        const char *lvl = in.levels + (size_t)l * CLS;
        char grp[4 * CLS];
        snprintf(grp, sizeof grp, "/heads/%s-%.*s-%s", in.backbone, CLS, lvl, head);
        if (req->level && strncmp(req->level, lvl, CLS)) continue;
        if (req->level) asked = l;
        if (!catalog_is_complete(c, grp)) continue;
        jobs[n_jobs++].li = l;
        finest = l;
    }
    REQUIRE(!req->level || asked >= 0, ST_USAGE, "%s: category level '%s' does not exist",
            req->catalog, req->level);
    REQUIRE(n_jobs > 0, ST_DATA, "%s: no complete head /heads/%s-<level>-%s%s%s; run `assort train "
            "%s` first (or pass --backbone/--head of a head that exists)", req->catalog,
            in.backbone, head, req->level ? " for level " : "", req->level ? req->level : "",
            req->catalog);
    TRY(dist_agree(load_split(c, &in, finest)));
    TRY(dist_agree(run_begin(c, "classify", cfg, &run)));
    run_open = 1;
    snprintf(run_id, 96, "%s", run.id);
    log_info("classify", "%lld products, %d level(s), backbone %s, head %s, split %s, similarity "
             "run %s; weights head %.3g knn %.3g name %.3g (%s)", (long long)in.n, n_jobs,
             in.backbone, head, in.split_name, in.sim_run[0] ? in.sim_run : "(none)",
             cfg->classify.w_head, cfg->classify.w_knn, cfg->classify.w_name, weights_mode);
    run_add_timing(&run, "load", time_now() - t0);
    sb_printf(&js, "{\"run_id\":");
    sb_json_str(&js, run.id);
    sb_printf(&js, ",\"similarity_run\":");
    if (in.sim_run[0]) sb_json_str(&js, in.sim_run);
    else sb_printf(&js, "null");
    sb_printf(&js, ",\"split\":");
    sb_json_str(&js, in.split_name);
    sb_printf(&js, ",\"weights\":{\"head\":%g,\"knn\":%g,\"name\":%g,\"mode\":\"%s\","
              "\"step\":%g},\"review_threshold\":%g,\"mislabel_threshold\":%g,\"ranks\":%d,"
              "\"levels\":{", cfg->classify.w_head, cfg->classify.w_knn, cfg->classify.w_name,
              weights_mode, cfg->classify.weight_step, cfg->classify.review_threshold,
              cfg->classify.mislabel_threshold, dist_size());
    char rgrp[160];
    snprintf(rgrp, sizeof rgrp, "/predictions/%s", run.id);
    for (int i = 0; i < n_jobs; i++) {
        struct job *j = &jobs[i];
        double t1 = time_now(), eb = NAN, ea = NAN, nb = NAN, na = NAN;
        int64_t nval = 0;
        TRY(stop_point(i, n_jobs));
        TRY(dist_agree(load_head(c, &in, head, j->li, j)));
        TRY(dist_agree(name_model_get(c, &in, cfg, req->retrain_names, j)));
        TRY(dist_agree(score_rows(&in, cfg, j)));
        TRY(dist_agree(choose_weights(&in, cfg, j)));
        TRY(dist_agree(combine_rows(&in, j)));
        TRY(fit_temperature(&in, j, &eb, &ea, &nb, &na, &nval));
        TRY(dist_agree(finish_rows(&in, cfg, j)));
        if (i) sb_printf(&js, ",");
        TRY(level_metrics(&in, j, &js, eb, ea, nb, na, nval));
        TRY(write_level(c, rgrp, &in, cfg, run.id, j));
        int64_t us = (int64_t)((time_now() - t1) * 1e6);
        TRY(dist_allreduce_max_i64(&us, 1));
        run_add_timing(&run, j->level, us / 1e6);
    }
    TRY(stop_point(n_jobs, n_jobs));
    sb_printf(&js, "}}");
    REQUIRE(!js.oom, ST_ERR, "classify: out of memory for the metrics JSON");
    /* groups and attributes of the run */
    int64_t *gid = NULL, *gsz = NULL;
    int64_t nloc = in.r1 - in.r0;
    gid = malloc(((size_t)nloc + 1) * sizeof(int64_t));
    gsz = malloc(((size_t)nloc + 1) * sizeof(int64_t));
    if (gid && gsz)
        for (int64_t i = 0; i < nloc; i++) {
            gid[i] = in.gid ? in.gid[in.r0 + i] : in.r0 + i;
            gsz[i] = in.gsz ? in.gsz[in.r0 + i] : 1;
        }
    int grc = gid && gsz ? ST_OK : err_set(ST_ERR, "classify: out of memory");
    if (grc == ST_OK) grc = write_rows(c, rgrp, "group_id", H5T_NATIVE_INT64, &in, 0, gid);
    if (grc == ST_OK) grc = write_rows(c, rgrp, "group_size", H5T_NATIVE_INT64, &in, 0, gsz);
    free(gid), free(gsz);
    TRY(grc);
    TRY(catalog_set_attr_str(c, rgrp, "run", run.id));
    TRY(catalog_set_attr_str(c, rgrp, "similarity_run", in.sim_run));
    TRY(catalog_set_attr_str(c, rgrp, "backbone", in.backbone));
    TRY(catalog_set_attr_str(c, rgrp, "split", in.split_name));
    TRY(catalog_set_attr_f64(c, rgrp, "w_head", cfg->classify.w_head));
    TRY(catalog_set_attr_f64(c, rgrp, "w_knn", cfg->classify.w_knn));
    TRY(catalog_set_attr_f64(c, rgrp, "w_name", cfg->classify.w_name));
    TRY(catalog_set_attr_str(c, rgrp, "weights", weights_mode));
    TRY(catalog_set_attr_f64(c, rgrp, "review_threshold", cfg->classify.review_threshold));
    TRY(catalog_set_attr_f64(c, rgrp, "mislabel_threshold", cfg->classify.mislabel_threshold));
    TRY(catalog_mark_complete(c, rgrp));
    TRY(run_set_metrics(&run, js.s));
    run_open = 0;
    TRY(dist_agree(run_end(c, &run)));
    began = 0;
    TRY(dist_agree(catalog_commit(&txn)));
    TRY(export_all(req, cfg, &in, jobs, n_jobs, run_id));
    log_info("classify", "wrote /predictions/%s to %s in %.1f s", run_id, req->catalog,
             time_now() - t0);
fail:
    rc = dist_agree(rc);
    if (run_open) run_free(&run);
    if (began && (dist_size() == 1 || dist_failure_agreed())) catalog_abort(&txn, 1);
    for (int i = 0; jobs && i < n_jobs; i++) job_free(&jobs[i]);
    free(jobs);
    inputs_free(&in);
    sb_free(&js);
    return rc;
}
