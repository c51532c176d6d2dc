#include "train_catalog.h"

#include <cblas.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "catalog/run.h"
#include "dist/dist.h"
#include "train/checkpoint.h"
#include "train/grad_allreduce.h"
#include "train/metrics.h"
#include "train/split.h"
#include "train/trainer.h"
#include "util/check.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/log.h"

#define CLS CATALOG_CLASS_BYTES
#define READ_CHUNK_ROWS 4096

/* One level's head: its class table after the rare-class rule and its data. */
struct level_job {
    char level[CLS];
    int level_index;
    int orig_classes;
    char *orig_names;         /* (orig_classes, CLS) /categories/<level> */
    int32_t *map;             /* (orig_classes) new class or -1 */
    int classes;
    char *names;              /* (classes, CLS) */
    int rare;                 /* rare classes with products */
    char head_name[3 * CLS];
    struct head_shape shape;
    float *params;            /* (P) result */
    double temperature;
    double *curves;           /* (epochs, CURVE_COLS) */
    double *confusion;        /* (C, C) test confusion, rank 0 */
    int64_t n_train, n_val, n_test, epochs_done, best_epoch;
    int stopped_early;
    double seconds;
};

/* Everything read from the catalog once. */
struct inputs {
    int64_t n;                /* products */
    int n_levels;
    char *levels;             /* (n_levels, CLS) */
    int32_t *labels;          /* (n, n_levels) */
    uint8_t *status;          /* (n) */
    uint8_t *valid;           /* (n) features extracted */
    int8_t *split;            /* (n) */
    int split_new;            /* 1: made now, to be stored */
    char split_name[CLS + 16];
    char feat[CLS + 32];      /* /features/<backbone>/data */
    int dim;                  /* feature width */
    const char *allreduce;    /* resolved train.allreduce backend name (static) */
};

static void inputs_free(struct inputs *in) {
    free(in->levels), free(in->labels), free(in->status), free(in->valid), free(in->split);
    memset(in, 0, sizeof *in);
}

static void job_free(struct level_job *j) {
    free(j->orig_names), free(j->map), free(j->names), free(j->params), free(j->curves);
    free(j->confusion);
    memset(j, 0, sizeof *j);
}

/* Reads the rows `rows` (ascending catalog rows, this rank's list) of a
 * (N, d) float dataset into out (n, d). Reads the covering range in chunks;
 * the chunk count is agreed so every rank makes the same collective calls. */
static int read_row_subset(struct catalog *c, const char *name, const int64_t *rows, int64_t n,
                           int d, float *out) {
    int rc = ST_OK;
    float *buf = NULL;
    int64_t lo = n > 0 ? rows[0] : 0, hi = n > 0 ? rows[n - 1] + 1 : 0;
    int64_t chunks = (hi - lo + READ_CHUNK_ROWS - 1) / READ_CHUNK_ROWS;
    TRY(dist_allreduce_max_i64(&chunks, 1));
    TRY_ALLOC(buf = malloc((size_t)READ_CHUNK_ROWS * d * sizeof(float)));
    int64_t k = 0;
    for (int64_t ch = 0; ch < chunks; ch++) {
        int64_t b = lo + ch * READ_CHUNK_ROWS, cnt = hi - b;
        if (cnt > READ_CHUNK_ROWS) cnt = READ_CHUNK_ROWS;
        if (cnt < 0) cnt = 0;
        TRY(catalog_read_rows(c, name, H5T_NATIVE_FLOAT, cnt > 0 ? b : 0, cnt, buf));
        while (k < n && rows[k] < b + cnt) {
            memcpy(out + (size_t)k * d, buf + (size_t)(rows[k] - b) * d, (size_t)d * sizeof(float));
            k++;
        }
    }
fail:
    free(buf);
    return rc;
}

static int level_index(const struct inputs *in, const char *name) {
    for (int l = 0; l < in->n_levels; l++)
        if (!strncmp(in->levels + (size_t)l * CLS, name, CLS)) return l;
    return -1;
}

static int unknown_level(const struct inputs *in, const char *name, const char *path) {
    char list[2048] = "";
    size_t used = 0;
    for (int l = 0; l < in->n_levels && used < sizeof list; l++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%.*s", l ? ", " : "", CLS,
                                 in->levels + (size_t)l * CLS);
    return err_set(ST_USAGE, "%s: category level '%s' does not exist; levels: %s", path, name,
                   in->n_levels ? list : "(none: run `assort ingest` first)");
}

/* Split from a CSV column kept by ingest under /products/attrs/<column>. */
static int split_from_column(struct catalog *c, const struct inputs *in, const char *column,
                             int finest, int8_t *out) {
    int rc = ST_OK;
    char name[CLS + 32], *vals = NULL;
    hid_t t = -1;
    snprintf(name, sizeof name, "/products/attrs/%s", column);
    REQUIRE(catalog_exists(c, name), ST_USAGE,
            "%s: train.split_column '%s' was not kept by ingest (no %s); add it to "
            "ingest.keep_columns and re-run `assort ingest`", catalog_path(c), column, name);
    TRY_H5(t = catalog_str_type(CATALOG_ATTR_BYTES));
    TRY(catalog_read_all(c, name, t, (void **)&vals, NULL));
    for (int64_t i = 0; i < in->n; i++) {
        char v[CATALOG_ATTR_BYTES + 1];
        memcpy(v, vals + (size_t)i * CATALOG_ATTR_BYTES, CATALOG_ATTR_BYTES);
        v[CATALOG_ATTR_BYTES] = '\0';
        int8_t part = SPLIT_UNUSED;
        if (!strcasecmp(v, "train")) part = SPLIT_TRAIN;
        else if (!strcasecmp(v, "val") || !strcasecmp(v, "valid") || !strcasecmp(v, "validation"))
            part = SPLIT_VAL;
        else if (!strcasecmp(v, "test")) part = SPLIT_TEST;
        int eligible = in->status[i] == PRODUCT_ACTIVE && in->labels[i * in->n_levels + finest] >= 0;
        out[i] = eligible ? part : SPLIT_UNUSED;
    }
fail:
    if (t >= 0) H5Tclose(t);
    free(vals);
    return rc;
}

static int load_inputs(struct catalog *c, const struct config *cfg, int finest,
                       struct inputs *in) {
    int rc = ST_OK;
    const char *path = catalog_path(c);
    const char *bb = cfg->train.features && *cfg->train.features ? cfg->train.features : "lite0";
    uint8_t *elig = NULL;
    int32_t *fine = NULL;
    int8_t *kept_split = NULL; /* (kept) a stored split older than the catalog (nightly appends) */
    int64_t kept = 0;
    in->n = catalog_count(c);
    REQUIRE(in->n > 0, ST_DATA, "%s: the catalog has no products; run `assort ingest` first", path);
    TRY(catalog_read_all(c, "/products/labels", H5T_NATIVE_INT32, (void **)&in->labels, NULL));
    if (catalog_exists(c, "/products/status"))
        TRY(catalog_read_all(c, "/products/status", H5T_NATIVE_UINT8, (void **)&in->status, NULL));
    else
        TRY_ALLOC(in->status = calloc((size_t)in->n, 1));
    char grp[CLS + 16];
    snprintf(grp, sizeof grp, "/features/%s", bb);
    snprintf(in->feat, sizeof in->feat, "/features/%s/data", bb);
    REQUIRE(catalog_exists(c, in->feat), ST_DATA,
            "%s: no %s features (%s missing); run `assort extract %s` (extract.backbone=%s) first",
            path, bb, in->feat, path, bb);
    int nd = 0;
    hsize_t dims[8];
    TRY(catalog_dims(c, in->feat, &nd, dims));
    REQUIRE(nd == 2 && (int64_t)dims[0] == in->n, ST_DATA,
            "%s: %s has shape %llu x %llu, expected %lld rows (one per product); re-run `assort "
            "extract`", path, in->feat, (unsigned long long)dims[0],
            (unsigned long long)(nd > 1 ? dims[1] : 0), (long long)in->n);
    in->dim = (int)dims[1];
    char vname[CLS + 32];
    snprintf(vname, sizeof vname, "/features/%s/valid", bb);
    if (catalog_exists(c, vname))
        TRY(catalog_read_all(c, vname, H5T_NATIVE_UINT8, (void **)&in->valid, NULL));
    else
        TRY_ALLOC(in->valid = calloc((size_t)in->n, 1));
    /* split */
    const char *fname = in->levels + (size_t)finest * CLS;
    snprintf(in->split_name, sizeof in->split_name, "/splits/%.*s", CLS, fname);
    TRY_ALLOC(in->split = malloc((size_t)in->n));
    if (catalog_exists(c, in->split_name)) {
        int8_t *s = NULL;
        int64_t rows = 0;
        TRY(catalog_read_all(c, in->split_name, H5T_NATIVE_INT8, (void **)&s, &rows));
        if (rows > in->n) free(s);
        REQUIRE(rows <= in->n, ST_DATA, "%s: %s has %lld rows, the catalog %lld; delete it to "
                "make a new split", path, in->split_name, (long long)rows, (long long)in->n);
        if (rows < in->n) {
            kept = rows, kept_split = s;  /* rows appended since: split them below, keep the rest */
        } else {
            memcpy(in->split, s, (size_t)in->n);
            free(s);
            log_info("train", "reusing split %s", in->split_name);
        }
    }
    if (kept_split == NULL && catalog_exists(c, in->split_name)) {
        /* reused as it was */
    } else if (cfg->train.split_column && *cfg->train.split_column) {
        free(kept_split), kept_split = NULL;  /* the column decides every row */
        TRY(split_from_column(c, in, cfg->train.split_column, finest, in->split));
        in->split_new = 1;
    } else {
        TRY_ALLOC(elig = malloc((size_t)in->n));
        TRY_ALLOC(fine = malloc((size_t)in->n * sizeof(int32_t)));
        int32_t maxc = -1;
        for (int64_t i = 0; i < in->n; i++) {
            fine[i] = in->labels[i * in->n_levels + finest];
            elig[i] = in->status[i] == PRODUCT_ACTIVE && i >= kept;
            if (fine[i] > maxc) maxc = fine[i];
        }
        rc = split_stratified(fine, elig, in->n, maxc + 1, cfg->train.split_train,
                              cfg->train.split_val, cfg->train.split_test, (uint64_t)cfg->run.seed,
                              in->split);
        if (kept_split) memcpy(in->split, kept_split, (size_t)kept);
        free(kept_split), kept_split = NULL;
        TRY(rc);
        if (kept)
            log_info("train", "extended split %s: %lld rows kept, %lld appended rows split", in->split_name,
                     (long long)kept, (long long)(in->n - kept));
        in->split_new = 1;
        log_info("train", "made stratified split %s (seed %lld, %.2f/%.2f/%.2f)", in->split_name,
                 (long long)cfg->run.seed, cfg->train.split_train, cfg->train.split_val,
                 cfg->train.split_test);
    }
    /* every product the split uses needs features */
    int64_t missing = 0, used = 0;
    for (int64_t i = 0; i < in->n; i++)
        if (in->split[i] != SPLIT_UNUSED) used++, missing += !in->valid[i];
    REQUIRE(missing == 0, ST_DATA,
            "%s: %lld of %lld labelled active products have no %s features; run `assort extract "
            "%s` (it continues where it stopped) before training", path, (long long)missing,
            (long long)used, bb, path);
fail:
    free(kept_split);
    free(elig);
    free(fine);
    return rc;
}

/* Class table of one level after the rare-class rule. */
static int make_job(struct catalog *c, const struct config *cfg, const struct inputs *in, int l,
                    const char *head, struct level_job *j) {
    int rc = ST_OK;
    int64_t *counts = NULL;
    hid_t t = -1;
    char name[CLS + 16];
    memset(j, 0, sizeof *j);
    j->level_index = l;
    memcpy(j->level, in->levels + (size_t)l * CLS, CLS);
    j->level[CLS - 1] = '\0';
    snprintf(name, sizeof name, "/categories/%s", j->level);
    REQUIRE(catalog_exists(c, name), ST_DATA, "%s: %s is missing (class names of level %s)",
            catalog_path(c), name, j->level);
    int64_t k = 0;
    TRY_H5(t = catalog_str_type(CLS));
    TRY(catalog_read_all(c, name, t, (void **)&j->orig_names, &k));
    j->orig_classes = (int)k;
    TRY_ALLOC(counts = calloc((size_t)k + 1, sizeof(int64_t)));
    TRY_ALLOC(j->map = malloc(((size_t)k + 1) * sizeof(int32_t)));
    for (int64_t i = 0; i < in->n; i++) {
        int32_t y = in->labels[i * in->n_levels + l];
        REQUIRE(y < k, ST_DATA, "%s: product row %lld has class %d at level %s, but %s has %lld "
                "names", catalog_path(c), (long long)i, y, j->level, name, (long long)k);
        if (y >= 0 && in->split[i] != SPLIT_UNUSED) counts[y]++;
    }
    int merge = !cfg->train.rare_classes || strcmp(cfg->train.rare_classes, "drop") != 0;
    split_rare_map(counts, (int)k, cfg->train.min_class_count, merge, j->map, &j->classes, &j->rare);
    if (j->rare > 0)
        log_info("train", "level %s: %d of %lld classes have fewer than %d labelled products; %s",
                 j->level, j->rare, (long long)k, cfg->train.min_class_count,
                 merge ? "merged into \"other\"" : "dropped (their products are not used)");
    REQUIRE(j->classes >= 2, ST_DATA,
            "%s: level %s has %d class(es) with at least %d labelled products; need 2 or more "
            "(lower train.min_class_count)", catalog_path(c), j->level, j->classes,
            cfg->train.min_class_count);
    TRY_ALLOC(j->names = calloc((size_t)j->classes, CLS));
    for (int i = 0; i < k; i++)
        if (j->map[i] >= 0 && counts[i] >= cfg->train.min_class_count)
            memcpy(j->names + (size_t)j->map[i] * CLS, j->orig_names + (size_t)i * CLS, CLS);
    if (merge && j->rare > 0) snprintf(j->names + (size_t)(j->classes - 1) * CLS, CLS, "other");
    const char *bb = cfg->train.features && *cfg->train.features ? cfg->train.features : "lite0";
    snprintf(j->head_name, sizeof j->head_name, "%s-%s-%s", bb, j->level, head);
fail:
    if (t >= 0) H5Tclose(t);
    free(counts);
    return rc;
}

/* Rows of one part for a level, and their classes: the global list (all
 * ranks) in ascending catalog row order. */
static int part_rows(const struct inputs *in, const struct level_job *j, int part, int64_t **rows,
                     int32_t **ys, int64_t *n) {
    int64_t k = 0;
    *rows = malloc(((size_t)in->n + 1) * sizeof(int64_t));
    *ys = malloc(((size_t)in->n + 1) * sizeof(int32_t));
    if (!*rows || !*ys) {
        free(*rows), free(*ys);
        *rows = NULL, *ys = NULL;
        return err_set(ST_ERR, "out of memory for the row lists");
    }
    for (int64_t i = 0; i < in->n; i++) {
        int32_t y = in->labels[i * in->n_levels + j->level_index];
        if (in->split[i] != part || y < 0 || j->map[y] < 0) continue;
        (*rows)[k] = i;
        (*ys)[k++] = j->map[y];
    }
    *n = k;
    return ST_OK;
}

/* This rank's shard of a part: features and labels. */
struct shard {
    int64_t n_global, first, n_local;
    int64_t *rows;            /* (n_global) catalog rows */
    int32_t *y;               /* (n_global) classes */
    float *x;                 /* (n_local, D) */
};

static void shard_free(struct shard *s) {
    free(s->rows), free(s->y), free(s->x);
    memset(s, 0, sizeof *s);
}

static int load_shard(struct catalog *c, const struct inputs *in, const struct level_job *j,
                      int part, struct shard *s) {
    int rc = ST_OK;
    memset(s, 0, sizeof *s);
    TRY(part_rows(in, j, part, &s->rows, &s->y, &s->n_global));
    int64_t e;
    dist_shard_range(s->n_global, dist_rank(), dist_size(), &s->first, &e);
    s->n_local = e - s->first;
    TRY_ALLOC(s->x = malloc(((size_t)s->n_local + 1) * in->dim * sizeof(float)));
    TRY(read_row_subset(c, in->feat, s->rows + s->first, s->n_local, in->dim, s->x));
    return ST_OK;
fail:
    shard_free(s);
    return rc;
}

static int warm_start(struct catalog *c, struct level_job *j, const struct head_layout *lay,
                      float *params) {
    int rc = ST_OK;
    char grp[4 * CLS], name[5 * CLS];
    char *names = NULL;
    float *w = NULL;
    hid_t t = -1;
    snprintf(grp, sizeof grp, "/heads/%s", j->head_name);
    if (!catalog_is_complete(c, grp)) {
        log_info("train", "warm start: no complete head %s; starting from scratch", grp);
        return ST_OK;
    }
    snprintf(name, sizeof name, "%s/classes", grp);
    int64_t k = 0;
    TRY_H5(t = catalog_str_type(CLS));
    TRY(catalog_read_all(c, name, t, (void **)&names, &k));
    if (k != j->classes || memcmp(names, j->names, (size_t)k * CLS) != 0) {
        log_warn("train", "warm start: %s has a different class table; starting from scratch", grp);
        goto fail;
    }
    const char *part[4] = {"w1", "b1", "w2", "b2"};
    size_t off[5] = {lay->w1, lay->b1, lay->w2, lay->b2, lay->count};
    for (int p = 0; p < (j->shape.kind == HEAD_MLP ? 4 : 2); p++) {
        int64_t rows = 0;
        snprintf(name, sizeof name, "%s/%s", grp, part[p]);
        free(w);
        w = NULL;
        int nd = 0;
        hsize_t dims[8];
        TRY(catalog_dims(c, name, &nd, dims));
        size_t cnt = 1;
        for (int i = 0; i < nd; i++) cnt *= dims[i];
        REQUIRE(cnt == off[p + 1] - off[p], ST_DATA, "warm start: %s has %zu values, expected %zu",
                name, cnt, off[p + 1] - off[p]);
        TRY(catalog_read_all(c, name, H5T_NATIVE_FLOAT, (void **)&w, &rows));
        memcpy(params + off[p], w, cnt * sizeof(float));
    }
    log_info("train", "warm start from %s", grp);
fail:
    if (t >= 0) H5Tclose(t);
    free(names);
    free(w);
    return rc;
}

static void curves_json(struct sbuf *b, const double *cv, int64_t epochs) {
    static const char *names[CURVE_COLS] = {"train_loss", "train_acc", "val_loss", "val_acc"};
    sb_printf(b, "{");
    for (int k = 0; k < CURVE_COLS; k++) {
        sb_printf(b, "%s\"%s\":[", k ? "," : "", names[k]);
        for (int64_t e = 0; e < epochs; e++) {
            if (e) sb_printf(b, ",");
            sb_json_num(b, cv[e * CURVE_COLS + k]);
        }
        sb_printf(b, "]");
    }
    sb_printf(b, "}");
}

/* Metrics of one part at T = 1 and at the fitted T, appended as JSON. */
static int eval_part(const struct level_job *j, const struct shard *s, const char *label,
                     struct sbuf *js, double *confusion_out) {
    int rc = ST_OK;
    float *logits = NULL;
    struct eval_stats st = {0};
    struct eval_metrics m = {0}, mt = {0};
    char **names = NULL;
    struct eval_set ev = {s->n_local, s->x, s->y + s->first};
    TRY(train_logits(&j->shape, j->params, &ev, &logits));
    TRY(eval_stats_init(&st, j->classes));
    TRY(train_eval_stats(logits, &ev, 1.0, &st));
    TRY(eval_finish(&st, &m));
    if (confusion_out)
        memcpy(confusion_out, st.buf + EV_CONFUSION, (size_t)j->classes * j->classes * sizeof(double));
    TRY(train_eval_stats(logits, &ev, j->temperature, &st));
    TRY(eval_finish(&st, &mt));
    TRY_ALLOC(names = malloc((size_t)j->classes * sizeof(char *)));
    for (int k = 0; k < j->classes; k++) names[k] = j->names + (size_t)k * CLS;
    sb_printf(js, ",\"%s\":", label);
    eval_metrics_json(js, &m, names);
    sb_printf(js, ",\"%s_calibrated\":{\"log_loss\":", label);
    sb_json_num(js, mt.log_loss);
    sb_printf(js, ",\"ece\":");
    sb_json_num(js, mt.ece);
    sb_printf(js, "}");
    log_info("train", "%s %s: top-1 %.4f top-5 %.4f macro-F1 %.4f log-loss %.4f ECE %.4f -> %.4f "
             "(T %.3f)", j->head_name, label, m.top1, m.top5, m.macro_f1, m.log_loss, m.ece,
             mt.ece, j->temperature);
fail:
    free(names);
    free(logits);
    eval_metrics_free(&m);
    eval_metrics_free(&mt);
    eval_stats_free(&st);
    return rc;
}

/* The checkpoint callback of train_level: every epoch, atomically. */
struct ckpt_ctx {
    const char *path, *head, *key;
    size_t count;
    int epochs;
};

static int ckpt_cb(const struct train_state *s, void *p) {
    const struct ckpt_ctx *cc = p;
    return ckpt_save(cc->path, cc->head, cc->key, s, cc->count, cc->epochs);
}

static int train_level(struct catalog *c, const struct config *cfg, const struct inputs *in,
                       const struct train_request *req, const char *key_base,
                       struct level_job *j, struct sbuf *js) {
    int rc = ST_OK;
    struct shard tr = {0}, va = {0}, te = {0};
    struct train_state st = {0};
    int64_t *ids = NULL;
    float *vlogits = NULL;
    double t0 = time_now();
    char ckpt[FS_PATH_MAX], key[1024];
    TRY(load_shard(c, in, j, SPLIT_TRAIN, &tr));
    TRY(load_shard(c, in, j, SPLIT_VAL, &va));
    TRY(load_shard(c, in, j, SPLIT_TEST, &te));
    j->n_train = tr.n_global, j->n_val = va.n_global, j->n_test = te.n_global;
    REQUIRE(tr.n_global > 0, ST_DATA, "%s: level %s has no training products", req->catalog, j->level);
    log_info("train", "%s: %d classes, %lld train / %lld val / %lld test products, %d features",
             j->head_name, j->classes, (long long)tr.n_global, (long long)va.n_global,
             (long long)te.n_global, in->dim);
    struct train_opts o = {0};
    int kind = head_kind_parse(req->head ? req->head : cfg->train.head ? cfg->train.head : "linear");
    REQUIRE(kind >= 0, ST_USAGE, "head must be linear or mlp");
    int opt = optim_kind_parse(cfg->train.optimizer ? cfg->train.optimizer : "adamw");
    REQUIRE(opt >= 0, ST_USAGE, "train.optimizer '%s' is not sgd or adamw", cfg->train.optimizer);
    o.shape = (struct head_shape){(enum head_kind)kind, in->dim, cfg->train.hidden, j->classes,
                                  (float)cfg->train.dropout};
    j->shape = o.shape;
    o.optimizer = (enum optim_kind)opt;
    o.lr = cfg->train.lr, o.momentum = cfg->train.momentum, o.nesterov = cfg->train.nesterov;
    o.weight_decay = cfg->train.weight_decay, o.warmup_epochs = cfg->train.warmup_epochs;
    o.epochs = cfg->train.epochs, o.batch = cfg->train.batch;
    o.label_smoothing = (float)cfg->train.label_smoothing;
    o.class_balanced = cfg->train.class_balanced, o.patience = cfg->train.patience;
    o.seed = (uint64_t)cfg->run.seed;
    o.allreduce = in->allreduce ? in->allreduce : "mpi";
    o.stop_after = req->stop_after;
    REQUIRE(o.epochs >= 1 && o.batch >= 1 && o.lr > 0, ST_USAGE,
            "train.epochs (%d), train.batch (%d) and train.lr (%g) must be positive", o.epochs,
            (int)o.batch, o.lr);
    REQUIRE(kind == HEAD_LINEAR || o.shape.hidden >= 1, ST_USAGE, "train.hidden must be >= 1 for mlp");
    TRY_ALLOC(ids = malloc(((size_t)tr.n_global + 1) * sizeof(int64_t)));
    memcpy(ids, tr.rows, (size_t)tr.n_global * sizeof(int64_t));
    TRY(train_state_init(&st, &o));
    struct head_layout lay;
    head_layout_of(&o.shape, &lay);
    snprintf(ckpt, sizeof ckpt, "%s.train.ckpt.h5", req->catalog);
    snprintf(key, sizeof key, "%s/%s/rows=%lld/classes=%d:%016llx/params=%zu", key_base,
             j->head_name, (long long)tr.n_global, j->classes,
             (unsigned long long)hash64(j->names, (size_t)j->classes * CLS), lay.count);
    /* --resume: a level the interrupted run had not started yet (no state in an
     * existing checkpoint) starts as it would in an uninterrupted run. */
    int resume = req->resume && !ckpt_lacks_head(ckpt, j->head_name);
    if (resume) {
        TRY(ckpt_load(ckpt, j->head_name, key, &st, lay.count, o.epochs));
        log_info("train", "%s: resuming after epoch %lld from %s", j->head_name,
                 (long long)st.epochs_done, ckpt);
    } else if (cfg->train.warm_start) {
        TRY(dist_agree(warm_start(c, j, &lay, st.params)));
        memcpy(st.best, st.params, lay.count * sizeof(float));
    }
    struct train_set ts = {tr.n_global, tr.first, tr.n_local, tr.x, tr.y, ids};
    struct eval_set vs = {va.n_local, va.x, va.y + va.first};
    struct ckpt_ctx cc = {ckpt, j->head_name, key, lay.count, o.epochs};
    TRY(dist_agree(train_run(&o, &ts, &vs, &st, ckpt_cb, &cc)));
    j->epochs_done = st.epochs_done, j->best_epoch = st.best_epoch;
    j->stopped_early = st.stopped_early;
    TRY_ALLOC(j->params = malloc(lay.count * sizeof(float)));
    memcpy(j->params, st.params, lay.count * sizeof(float));
    TRY_ALLOC(j->curves = malloc((size_t)o.epochs * CURVE_COLS * sizeof(double)));
    memcpy(j->curves, st.curves, (size_t)o.epochs * CURVE_COLS * sizeof(double));
    /* temperature on validation */
    j->temperature = 1.0;
    if (va.n_global > 0) {
        TRY(train_logits(&j->shape, j->params, &vs, &vlogits));
        TRY(train_fit_temperature(vlogits, &vs, j->classes, &j->temperature));
    }
    TRY_ALLOC(j->confusion = calloc((size_t)j->classes * j->classes, sizeof(double)));
    sb_printf(js, "\"%s\":{\"head\":", j->level);
    sb_json_str(js, j->head_name);
    sb_printf(js, ",\"classes\":%d,\"rare_classes\":%d,\"train_rows\":%lld,\"val_rows\":%lld,"
              "\"test_rows\":%lld,\"epochs_done\":%lld,\"best_epoch\":%lld,\"stopped_early\":%s,"
              "\"temperature\":", j->classes, j->rare, (long long)j->n_train,
              (long long)j->n_val, (long long)j->n_test, (long long)j->epochs_done,
              (long long)j->best_epoch + 1, j->stopped_early ? "true" : "false");
    sb_json_num(js, j->temperature);
    if (va.n_global > 0) TRY(eval_part(j, &va, "val", js, NULL));
    if (te.n_global > 0) TRY(eval_part(j, &te, "test", js, j->confusion));
    sb_printf(js, ",\"curves\":");
    curves_json(js, j->curves, j->epochs_done);
    j->seconds = time_now() - t0;
    sb_printf(js, ",\"seconds\":%.3f,\"seconds_allreduce\":%.3f,\"seconds_exchange\":%.3f}",
              j->seconds, st.seconds_allreduce, st.seconds_exchange);
fail:
    shard_free(&tr), shard_free(&va), shard_free(&te);
    train_state_free(&st);
    free(ids);
    free(vlogits);
    return rc;
}

/* Writes the heads, the split and the run record in one transaction. */
static int write_outputs(const struct train_request *req, const struct config *cfg,
                         const struct inputs *in, struct level_job *jobs, int n_jobs,
                         const char *metrics, double t_load) {
    int rc = ST_OK, began = 0;
    struct catalog_txn txn;
    struct run_record run;
    int run_open = 0;
    hid_t t = -1;
    char name[5 * CLS], hash[17] = "", *json = NULL;
    struct sbuf full = {0};
    TRY(dist_agree(catalog_begin(req->catalog, "train", 0, &txn)));
    began = 1;
    struct catalog *c = txn.cat;
    TRY(dist_agree(run_begin(c, "train", cfg, &run)));
    run_open = 1;
    TRY(config_hash(cfg, hash));
    TRY_H5(t = catalog_str_type(CLS));
    if (in->split_new) {
        hsize_t d1[1] = {(hsize_t)in->n};
        TRY(catalog_write_small(c, in->split_name, H5T_NATIVE_INT8, 1, d1, in->split));
        TRY(catalog_set_attr_i64(c, in->split_name, "seed", cfg->run.seed));
        TRY(catalog_set_attr_str(c, in->split_name, "source",
                                 cfg->train.split_column && *cfg->train.split_column
                                     ? cfg->train.split_column : "stratified"));
        TRY(catalog_set_attr_f64(c, in->split_name, "train", cfg->train.split_train));
        TRY(catalog_set_attr_f64(c, in->split_name, "val", cfg->train.split_val));
        TRY(catalog_set_attr_f64(c, in->split_name, "test", cfg->train.split_test));
    }
    for (int i = 0; i < n_jobs; i++) {
        struct level_job *j = &jobs[i];
        struct head_layout lay;
        head_layout_of(&j->shape, &lay);
        char grp[4 * CLS];
        snprintf(grp, sizeof grp, "/heads/%s", j->head_name);
        TRY(catalog_delete(c, grp));
        int d = j->shape.in_dim, h = j->shape.hidden, k = j->classes;
        const char *part[4] = {"w1", "b1", "w2", "b2"};
        size_t off[4] = {lay.w1, lay.b1, lay.w2, lay.b2};
        hsize_t dims[4][2] = {{(hsize_t)d, (hsize_t)(j->shape.kind == HEAD_MLP ? h : k)},
                              {(hsize_t)(j->shape.kind == HEAD_MLP ? h : k), 0},
                              {(hsize_t)h, (hsize_t)k},
                              {(hsize_t)k, 0}};
        int nd[4] = {2, 1, 2, 1};
        for (int p = 0; p < (j->shape.kind == HEAD_MLP ? 4 : 2); p++) {
            snprintf(name, sizeof name, "%s/%s", grp, part[p]);
            TRY(catalog_write_small(c, name, H5T_NATIVE_FLOAT, nd[p], dims[p], j->params + off[p]));
        }
        hsize_t dc[1] = {(hsize_t)k}, dm[1] = {(hsize_t)j->orig_classes};
        snprintf(name, sizeof name, "%s/classes", grp);
        TRY(catalog_write_small(c, name, t, 1, dc, j->names));
        snprintf(name, sizeof name, "%s/class_map", grp);
        TRY(catalog_write_small(c, name, H5T_NATIVE_INT32, 1, dm, j->map));
        TRY(catalog_set_attr_str(c, grp, "level", j->level));
        char backbone[sizeof in->feat];   /* "lite0" out of "/features/lite0/data" */
        snprintf(backbone, sizeof backbone, "%s", in->feat + strlen("/features/"));
        char *slash = strchr(backbone, '/');
        if (slash) *slash = '\0';
        TRY(catalog_set_attr_str(c, grp, "backbone", backbone));
        TRY(catalog_set_attr_str(c, grp, "head", head_kind_name(j->shape.kind)));
        TRY(catalog_set_attr_str(c, grp, "config_hash", hash));
        TRY(catalog_set_attr_str(c, grp, "run_id", run.id));
        TRY(catalog_set_attr_str(c, grp, "rare_classes",
                                 cfg->train.rare_classes ? cfg->train.rare_classes : "other"));
        TRY(catalog_set_attr_f64(c, grp, "temperature", j->temperature));
        TRY(catalog_set_attr_f64(c, grp, "dropout", j->shape.dropout));
        TRY(catalog_set_attr_i64(c, grp, "in_dim", d));
        TRY(catalog_set_attr_i64(c, grp, "hidden", j->shape.kind == HEAD_MLP ? h : 0));
        TRY(catalog_set_attr_i64(c, grp, "classes", k));
        TRY(catalog_set_attr_i64(c, grp, "epochs_done", j->epochs_done));
        TRY(catalog_set_attr_i64(c, grp, "best_epoch", j->best_epoch + 1));
        TRY(catalog_mark_complete(c, grp));
        hsize_t dcc[2] = {(hsize_t)k, (hsize_t)k}, dcv[2] = {(hsize_t)j->epochs_done, CURVE_COLS};
        snprintf(name, sizeof name, "/runs/%s/confusion_%s", run.id, j->level);
        int64_t *cm = malloc((size_t)k * k * sizeof(int64_t) + 8);
        TRY_ALLOC(cm);
        for (size_t q = 0; q < (size_t)k * k; q++) cm[q] = (int64_t)llround(j->confusion[q]);
        int wrc = catalog_write_small(c, name, H5T_NATIVE_INT64, 2, dcc, cm);
        free(cm);
        TRY(wrc);
        snprintf(name, sizeof name, "/runs/%s/curves_%s", run.id, j->level);
        TRY(catalog_write_small(c, name, H5T_NATIVE_DOUBLE, 2, dcv, j->curves));
        run_add_timing(&run, j->head_name, j->seconds);
    }
    run_add_timing(&run, "load", t_load);
    sb_printf(&full, "{\"run_id\":");
    sb_json_str(&full, run.id);
    sb_printf(&full, ",\"catalog\":");
    sb_json_str(&full, req->catalog);
    sb_printf(&full, ",\"config_hash\":\"%s\",\"ranks\":%d,\"split\":", hash, dist_size());
    sb_json_str(&full, in->split_name);
    sb_printf(&full, ",\"levels\":{%s}}", metrics);
    TRY_ALLOC(full.s);
    REQUIRE(!full.oom, ST_ERR, "out of memory for the metrics JSON");
    TRY(run_set_metrics(&run, full.s));
    char jpath[FS_PATH_MAX];
    snprintf(jpath, sizeof jpath, "%s.train-%s.json", req->catalog, run.id);
    int wr = ST_OK;
    if (dist_rank() == 0) {
        sb_printf(&full, "\n");
        wr = fs_write_atomic(jpath, full.s, full.len);
    }
    TRY(dist_agree(wr));
    TRY(dist_agree(run_end(c, &run)));
    run_open = 0;
    TRY(dist_agree(catalog_commit(&txn)));
    began = 0;
    log_info("train", "wrote %d head(s) to %s; metrics in run %s and %s", n_jobs, req->catalog,
             run.id, jpath);
fail:
    if (t >= 0) H5Tclose(t);
    if (run_open) run_free(&run);
    if (began && (dist_size() == 1 || dist_failure_agreed())) catalog_abort(&txn, 1);
    sb_free(&full);
    free(json);
    return rc;
}

int train_catalog(const struct train_request *req, const struct config *cfg) {
    int rc = ST_OK;
    struct catalog *c = NULL;
    struct inputs in = {0};
    struct level_job *jobs = NULL;
    int n_jobs = 0, *want = NULL;
    struct sbuf js = {0};
    char hash[17] = "", key[256];
    double t0 = time_now();
    const char *head = req->head ? req->head : cfg->train.head ? cfg->train.head : "linear";
    REQUIRE(head_kind_parse(head) >= 0, ST_USAGE, "--head '%s': use linear or mlp", head);
    const struct grad_allreduce *ar = NULL;
    TRY(grad_allreduce_resolve(cfg->train.allreduce, &ar)); /* collective; refuses nccl early */
    log_info("train", "gradient allreduce: %s (train.allreduce=%s)", ar->name,
             cfg->train.allreduce ? cfg->train.allreduce : "auto");
    int threads = cfg->run.threads > 0 ? cfg->run.threads
                                       : (int)(sysconf(_SC_NPROCESSORS_ONLN) / dist_local_size());
    openblas_set_num_threads(threads > 0 ? threads : 1);
    TRY(dist_agree(catalog_open(req->catalog, 0, &c)));
    /* levels */
    if (catalog_exists(c, "/categories/levels")) {
        hid_t t = catalog_str_type(CLS);
        int64_t nl = 0;
        int lrc = catalog_read_all(c, "/categories/levels", t, (void **)&in.levels, &nl);
        H5Tclose(t);
        TRY(lrc);
        in.n_levels = (int)nl;
    }
    REQUIRE(in.n_levels > 0 && catalog_exists(c, "/products/labels"), ST_DATA,
            "%s: no category levels or labels; run `assort ingest` first", req->catalog);
    TRY_ALLOC(want = calloc((size_t)in.n_levels, sizeof(int)));
    if (req->level) {
        int l = level_index(&in, req->level);
        if (l < 0) {
            rc = unknown_level(&in, req->level, req->catalog);
            goto fail;
        }
        want[l] = 1;
    } else if (cfg->train.levels.count > 0) {
        for (int i = 0; i < cfg->train.levels.count; i++) {
            int l = level_index(&in, cfg->train.levels.items[i]);
            if (l < 0) {
                rc = unknown_level(&in, cfg->train.levels.items[i], req->catalog);
                goto fail;
            }
            want[l] = 1;
        }
    } else {
        for (int l = 0; l < in.n_levels; l++) want[l] = 1;
    }
    int finest = 0;
    for (int l = 0; l < in.n_levels; l++)
        if (want[l]) finest = l, n_jobs++;
    TRY(load_inputs(c, cfg, finest, &in));
    in.allreduce = ar->name;
    TRY_ALLOC(jobs = calloc((size_t)n_jobs, sizeof *jobs));
    int k = 0;
    for (int l = 0; l < in.n_levels; l++)
        if (want[l]) TRY(make_job(c, cfg, &in, l, head, &jobs[k++]));
    TRY(config_hash(cfg, hash));
    snprintf(key, sizeof key, "config=%s/split=%s", hash, in.split_name);
    double t_load = time_now() - t0;
    for (int i = 0; i < n_jobs; i++) {
        if (i) sb_printf(&js, ",");
        TRY(train_level(c, cfg, &in, req, key, &jobs[i], &js));
    }
    REQUIRE(!js.oom, ST_ERR, "out of memory for the metrics JSON");
    TRY(dist_agree(catalog_close(c)));
    c = NULL;
    TRY(write_outputs(req, cfg, &in, jobs, n_jobs, js.s ? js.s : "", t_load));
    if (dist_rank() == 0) {
        char ckpt[FS_PATH_MAX];
        snprintf(ckpt, sizeof ckpt, "%s.train.ckpt.h5", req->catalog);
        remove(ckpt);
    }
fail:
    rc = dist_agree(rc);
    if (c) catalog_close(c);
    for (int i = 0; jobs && i < n_jobs; i++) job_free(&jobs[i]);
    free(jobs);
    free(want);
    inputs_free(&in);
    sb_free(&js);
    return rc;
}
