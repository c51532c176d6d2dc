/* cmd_similarity.c - `assort similarity CATALOG.h5`: image kNN, name
 * neighbours, fused scores and near-duplicate groups into /similarity/<run>. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/run.h"
#include "cli/cli.h"
#include "commands.h"
#include "dist/dist.h"
#include "similarity/fuse.h"
#include "similarity/knn.h"
#include "similarity/names.h"
#include "util/check.h"
#include "util/log.h"

static const struct cli_cmd self = {
    "similarity", "CATALOG.h5", "image and name neighbours, fused scores, near-duplicate groups",
    "Exact top-k image neighbours (cosine of L2-normalised features), top-k name\n"
    "neighbours (character n-gram TF-IDF cosine), fused scores of their union and\n"
    "near-duplicate groups, written to /similarity/<run-id>. --query changed queries only\n"
    "the products flagged in /products/needs_similarity (new or changed since the last\n"
    "similarity run) against the whole catalog; every run clears the flags of the rows it\n"
    "queried. See docs/similarity.md.",
    cmd_similarity};

/* Writes rows [off, off + count) of a (total, k) dataset created here. */
static int write_table(struct catalog *c, const char *grp, const char *name, hid_t type,
                       int64_t total, int k, int64_t off, int64_t count, const void *buf) {
    int rc = ST_OK;
    char path[256];
    snprintf(path, sizeof path, "%s/%s", grp, name);
    hsize_t dims[2] = {(hsize_t)total, (hsize_t)k};
    TRY(catalog_create_dataset(c, path, type, k > 0 ? 2 : 1, dims, NULL, 0, 0));
    TRY(catalog_write_rows(c, path, type, off, count, buf));
fail:
    return rc;
}

/* Near-duplicate pairs of the rows a partial run (--query changed|dirty) did
 * not query, carried from the newest complete earlier run that queried each
 * such row: (row, neighbour, stored fused score) for neighbours that are
 * usable and were not queried tonight either (a queried row's features may
 * have changed; its fresh pairs come from tonight's lists). Every rank reads;
 * only rank 0 keeps the pairs (fuse_groups gathers them). *carried counts the
 * rows whose lists were found. Appends to *out (query, cand, fused only). */
static int carry_pairs(struct catalog *c, int64_t n, const uint8_t *usable, const uint8_t *queried,
                       struct fused_pairs *out, int64_t *carried) {
    int rc = ST_OK;
    char **runs = NULL;
    int nr = 0;
    int64_t *q = NULL, *nb = NULL;
    float *fu = NULL;
    uint8_t *filled = NULL;
    *carried = 0;
    if (!catalog_exists(c, "/similarity")) return ST_OK;
    TRY_ALLOC(filled = calloc((size_t)n + 1, 1));
    TRY(catalog_list(c, "/similarity", &runs, &nr));
    for (int r = nr - 1; r >= 0; r--) { /* run ids sort by time: newest first */
        char grp[300], p[400];
        snprintf(grp, sizeof grp, "/similarity/%s", runs[r]);
        if (!catalog_is_complete(c, grp)) continue;
        int64_t k = 0, nq = 0;
        TRY(catalog_get_attr_i64(c, grp, "k", &k));
        snprintf(p, sizeof p, "%s/query_rows", grp);
        TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&q, &nq));
        snprintf(p, sizeof p, "%s/neighbours", grp);
        TRY(catalog_read_all(c, p, H5T_NATIVE_INT64, (void **)&nb, NULL));
        snprintf(p, sizeof p, "%s/score_fused", grp);
        TRY(catalog_read_all(c, p, H5T_NATIVE_FLOAT, (void **)&fu, NULL));
        int64_t add = 0;
        for (int64_t i = 0; i < nq; i++) {
            int64_t row = q[i];
            if (row < 0 || row >= n || filled[row] || queried[row] || !usable[row]) continue;
            filled[row] = 1;
            (*carried)++;
            for (int64_t j = 0; j < k; j++) {
                int64_t cand = nb[i * k + j];
                add += cand >= 0 && cand < n && usable[cand] && !queried[cand];
            }
        }
        if (add && dist_rank() == 0) {
            int64_t m = out->count + add;
            int64_t *nq_ = realloc(out->query, sizeof *nq_ * (size_t)m);
            if (nq_) out->query = nq_;
            int64_t *nc_ = realloc(out->cand, sizeof *nc_ * (size_t)m);
            if (nc_) out->cand = nc_;
            float *nf_ = realloc(out->fused, sizeof *nf_ * (size_t)m);
            if (nf_) out->fused = nf_;
            TRY_ALLOC(nq_ && nc_ && nf_ ? nq_ : NULL);
            /* filled[] was set above for this run's rows: walk them again */
            for (int64_t i = 0; i < nq; i++) {
                int64_t row = q[i];
                if (row < 0 || row >= n || filled[row] != 1) continue;
                filled[row] = 2;
                for (int64_t j = 0; j < k; j++) {
                    int64_t cand = nb[i * k + j];
                    if (cand < 0 || cand >= n || !usable[cand] || queried[cand]) continue;
                    out->query[out->count] = row;
                    out->cand[out->count] = cand;
                    out->fused[out->count] = fu[i * k + j];
                    out->count++;
                }
            }
        }
        for (int64_t i = 0; i < n; i++) filled[i] += filled[i] == 1; /* done with this run */
        free(q), free(nb), free(fu);
        q = NULL, nb = NULL, fu = NULL;
    }
fail:
    catalog_list_free(runs, nr);
    free(q), free(nb), free(fu), free(filled);
    return rc;
}

/* Pair labels for learning: same finest label and same normalised name. */
static void pair_labels(const struct fused_pairs *p, const int32_t *labels, int levels,
                        const struct name_index *ix, uint8_t *y, uint8_t *train, uint8_t *eval) {
    for (int64_t i = 0; i < p->count; i++) {
        int32_t a = labels[p->query[i] * levels + levels - 1];
        int32_t b = labels[p->cand[i] * levels + levels - 1];
        int ok = a >= 0 && b >= 0;
        y[i] = ok && a == b &&
               !strcmp(name_index_normalized(ix, p->query[i]), name_index_normalized(ix, p->cand[i]));
        train[i] = ok && p->query[i] % 2 == 0; /* held out: odd query rows */
        eval[i] = ok && p->query[i] % 2 == 1;
    }
}

int cmd_similarity(int argc, char **argv) {
    int rc = ST_OK;
    struct cli_ctx ctx = {0};
    const char *backbone = NULL, *query_mode = NULL;
    struct cli_opt opts[] = {
        {"backbone", 0, CLI_STR, &backbone, "NAME", "features to use (default extract.backbone)"},
        {"query", 0, CLI_STR, &query_mode, "all|dirty|changed",
         "query every product, the dirty ones, or those flagged needs_similarity"},
        CLI_OPT_END};
    struct catalog_txn txn = {0};
    struct catalog *c = NULL;
    struct run_record run = {0};
    int in_txn = 0, in_run = 0;
    float *feats = NULL, *name_img = NULL;
    uint8_t *usable = NULL, *valid = NULL, *status = NULL, *dirty = NULL, *needs = NULL, *queried = NULL;
    uint8_t *y = NULL, *tr = NULL, *ev = NULL;
    char *names = NULL;
    int32_t *labels = NULL;
    int64_t *queries = NULL, *pq = NULL, *pc = NULL, *gid = NULL, *gsz = NULL, *offs = NULL;
    struct name_index *ix = NULL;
    struct knn_lists img = {0}, nm = {0};
    struct fused_lists fl = {0};
    struct fused_pairs pairs = {0}, gpairs = {0};
    hid_t name_t = -1;
    char metrics[1024] = "{}";

    rc = cli_parse(&ctx, &self, opts, argc, argv, 1, 1);
    if (rc == CLI_HELP_SHOWN) return ST_OK;
    TRY(rc);
    TRY(cli_load_config(&ctx));
    const struct config *cfg = ctx.cfg;
    /* Defaults and ranges come from the config schema (docs/config.md). */
    int k = cfg->similarity.k;
    int block = cfg->similarity.block;
    int ngram = cfg->similarity.ngram;
    double w_img = cfg->similarity.w_img, w_name = cfg->similarity.w_name;
    double thr = cfg->similarity.duplicate_threshold;
    if (!backbone) backbone = cfg->extract.backbone;
    if (!query_mode) query_mode = cfg->similarity.query;
    REQUIRE(!strcmp(query_mode, "all") || !strcmp(query_mode, "dirty") ||
                !strcmp(query_mode, "changed"), ST_USAGE,
            "similarity: --query %s is not known; use all, dirty or changed", query_mode);
    int partial = strcmp(query_mode, "all") != 0;
    log_info("similarity", "k=%d block=%d ngram=%d w_img=%.3g w_name=%.3g duplicate_threshold=%.3g "
             "backbone=%s query=%s", k, block, ngram, w_img, w_name, thr, backbone, query_mode);

    TRY(dist_agree(catalog_begin(ctx.pos[0], "similarity", 0, &txn)));
    in_txn = 1;
    c = txn.cat;
    int64_t n = catalog_count(c);
    char fpath[128], vpath[128];
    snprintf(fpath, sizeof fpath, "/features/%s/data", backbone);
    snprintf(vpath, sizeof vpath, "/features/%s/valid", backbone);
    REQUIRE(catalog_exists(c, fpath), ST_DATA,
            "%s: no features %s; run `assort extract` (or pass --backbone with one that exists)",
            ctx.pos[0], fpath);
    int nd = 0;
    hsize_t fd[8];
    TRY(catalog_dims(c, fpath, &nd, fd));
    REQUIRE(nd == 2 && (int64_t)fd[0] == n, ST_DATA,
            "%s: %s has shape %llu x %llu but the catalog has %lld products; rerun `assort extract`",
            ctx.pos[0], fpath, (unsigned long long)fd[0], nd > 1 ? (unsigned long long)fd[1] : 0ull,
            (long long)n);
    int dim = (int)fd[1];
    TRY(run_begin(c, "similarity", cfg, &run));
    in_run = 1;
    double t0 = time_now();

    /* usable rows: valid features and not removed (same on every rank) */
    usable = malloc(n ? n : 1);
    TRY_ALLOC(usable);
    memset(usable, 1, n);
    if (catalog_exists(c, vpath)) {
        TRY(catalog_read_all(c, vpath, H5T_NATIVE_UINT8, (void **)&valid, NULL));
        for (int64_t i = 0; i < n; i++) usable[i] &= valid[i] != 0;
    }
    if (catalog_exists(c, "/products/status")) {
        TRY(catalog_read_all(c, "/products/status", H5T_NATIVE_UINT8, (void **)&status, NULL));
        for (int64_t i = 0; i < n; i++) usable[i] &= status[i] != PRODUCT_REMOVED;
    }
    int64_t b0, b1;
    knn_shard_range(n, block, dist_rank(), dist_size(), &b0, &b1);
    feats = malloc(sizeof(float) * ((b1 - b0) ? (b1 - b0) : 1) * dim);
    TRY_ALLOC(feats);
    TRY(catalog_read_rows(c, fpath, H5T_NATIVE_FLOAT, b0, b1 - b0, feats));
    int64_t bad_feats = 0;
    knn_normalize_rows(feats, b1 - b0, dim, usable + b0, &bad_feats);
    TRY_MPI(MPI_Allreduce(MPI_IN_PLACE, usable, (int)n, MPI_UINT8_T, MPI_MIN, dist_comm()));
    TRY(dist_allreduce_sum_i64(&bad_feats, 1));
    if (bad_feats)
        log_warn("similarity", "%lld products have zero or non-finite features and get no image "
                 "neighbours; rerun `assort extract` for them", (long long)bad_feats);

    /* queries: this rank's shard; all usable rows, the dirty ones, or the ones
     * flagged needs_similarity (a catalog from before the flag: all rows). */
    int have_needs = catalog_exists(c, "/products/needs_similarity");
    int64_t needs_rows = 0;
    if (have_needs) {
        TRY(catalog_read_all(c, "/products/needs_similarity", H5T_NATIVE_UINT8, (void **)&needs,
                             &needs_rows));
        REQUIRE(needs_rows <= n, ST_DATA, "%s: /products/needs_similarity has %lld rows, /products/id "
                "%lld; the catalog is damaged", ctx.pos[0], (long long)needs_rows, (long long)n);
        /* rows appended by an ingest from before the flag: they need a run */
        uint8_t *grown = realloc(needs, (size_t)n + 1);
        TRY_ALLOC(grown);
        needs = grown;
        if (n > needs_rows) memset(needs + needs_rows, 1, (size_t)(n - needs_rows));
    }
    if (!strcmp(query_mode, "dirty")) {
        REQUIRE(catalog_exists(c, "/products/dirty"), ST_DATA,
                "%s: --query dirty needs /products/dirty; use --query all", ctx.pos[0]);
        TRY(catalog_read_all(c, "/products/dirty", H5T_NATIVE_UINT8, (void **)&dirty, NULL));
    }
    if (!strcmp(query_mode, "changed") && !have_needs)
        log_info("similarity", "%s has no /products/needs_similarity (written by ingest since "
                 "this flag exists): every product is queried and the flag is created", ctx.pos[0]);
    const uint8_t *select = dirty ? dirty : !strcmp(query_mode, "changed") ? needs : NULL;
    queries = malloc(sizeof *queries * ((b1 - b0) ? (b1 - b0) : 1));
    TRY_ALLOC(queries);
    int64_t nq = 0;
    for (int64_t r = b0; r < b1; r++)
        if (usable[r] && (!select || select[r])) queries[nq++] = r;
    /* queried (n): the rows every rank queries, the same on every rank */
    TRY_ALLOC(queried = calloc((size_t)n + 1, 1));
    for (int64_t i = 0; i < nq; i++) queried[queries[i]] = 1;
    TRY_MPI(MPI_Allreduce(MPI_IN_PLACE, queried, (int)n, MPI_UINT8_T, MPI_MAX, dist_comm()));

    /* names: every rank indexes all, queries its shard */
    TRY_H5(name_t = catalog_str_type(CATALOG_NAME_BYTES));
    TRY(catalog_read_all(c, "/products/name", name_t, (void **)&names, NULL));
    int64_t bad_names = 0;
    TRY(name_index_build(names, CATALOG_NAME_BYTES, n, ngram, &ix, &bad_names));
    for (int64_t r = 0, shown = 0; r < n && bad_names && shown < 5; r++)
        if (name_index_bad(ix, r) && r >= b0 && r < b1 && shown++ < 5)
            log_warn("similarity", "%s: /products/name row %lld is not valid UTF-8; it is treated as "
                     "empty (fix the name in the CSV and re-ingest)", ctx.pos[0], (long long)r);
    TRY(name_index_search(ix, queries, nq, k, usable, &nm));
    double t_names = time_now() - t0;

    /* image kNN, with the exact image scores of name-only candidates */
    pq = malloc(sizeof *pq * (nq ? nq : 1) * k);
    pc = malloc(sizeof *pc * (nq ? nq : 1) * k);
    name_img = malloc(sizeof *name_img * (nq ? nq : 1) * k);
    TRY_ALLOC(pq);
    TRY_ALLOC(pc);
    TRY_ALLOC(name_img);
    int64_t np = 0;
    for (int64_t i = 0; i < nq * k; i++) {
        name_img[i] = NAN;
        if (nm.index[i] >= 0) {
            pq[np] = queries[i / k];
            pc[np] = nm.index[i];
            np++;
        }
    }
    float *extra_s = malloc(sizeof(float) * (np ? np : 1));
    TRY_ALLOC(extra_s);
    struct knn_pairs extra = {np, pq, pc, extra_s};
    struct knn_shard sh = {feats, b0, b1 - b0, dim, n, usable};
    double t1 = time_now();
    rc = knn_search(&sh, queries, nq, k, block, &extra, &img);
    for (int64_t i = 0, p = 0; rc == ST_OK && i < nq * k; i++)
        if (nm.index[i] >= 0) name_img[i] = extra_s[p++];
    free(extra_s);
    TRY(rc);
    double t_img = time_now() - t1;

    /* fused scores and groups */
    TRY(fuse_lists(&img, &nm, name_img, ix, w_img, w_name, &fl, &pairs));
    int learned = 0;
    double w[3] = {0, 0, 0}, auc_fixed = NAN, auc_learned = NAN;
    int64_t npos = 0, nneg = 0;
    if (catalog_exists(c, "/products/labels")) {
        int lnd = 0;
        hsize_t ld[8];
        TRY(catalog_dims(c, "/products/labels", &lnd, ld));
        int levels = lnd == 2 ? (int)ld[1] : 1;
        TRY(catalog_read_all(c, "/products/labels", H5T_NATIVE_INT32, (void **)&labels, NULL));
        int64_t pcnt = pairs.count ? pairs.count : 1;
        y = malloc(pcnt);
        tr = malloc(pcnt);
        ev = malloc(pcnt);
        TRY_ALLOC(y);
        TRY_ALLOC(tr);
        TRY_ALLOC(ev);
        pair_labels(&pairs, labels, levels, ix, y, tr, ev);
        TRY(fuse_learn(&pairs, y, tr, 1e-3, w));
        float *ls = malloc(sizeof(float) * pcnt);
        TRY_ALLOC(ls);
        for (int64_t i = 0; i < pairs.count; i++)
            ls[i] = (float)(w[0] * pairs.s_img[i] + w[1] * pairs.s_name[i]);
        rc = fuse_auc(pairs.fused, y, ev, pairs.count, &auc_fixed, &npos, &nneg);
        if (rc == ST_OK) rc = fuse_auc(ls, y, ev, pairs.count, &auc_learned, &npos, &nneg);
        free(ls);
        TRY(rc);
        learned = 1;
        log_info("similarity", "held-out pairs %lld positive / %lld negative: AUC fixed weights "
                 "(%.3g, %.3g) = %.4f, learned (%.4g, %.4g, bias %.4g) = %.4f", (long long)npos,
                 (long long)nneg, w_img, w_name, auc_fixed, w[0], w[1], w[2], auc_learned);
        if (cfg->similarity.learn_weights && w[0] + w[1] > 0) {
            /* the learned direction, scaled so the weights sum to 1 */
            w_img = w[0] / (w[0] + w[1]);
            w_name = w[1] / (w[0] + w[1]);
            fused_lists_free(&fl);
            fused_pairs_free(&pairs);
            TRY(fuse_lists(&img, &nm, name_img, ix, w_img, w_name, &fl, &pairs));
            log_info("similarity", "using learned weights w_img=%.4g w_name=%.4g", w_img, w_name);
        }
    }
    gid = malloc(sizeof *gid * (n ? n : 1));
    gsz = malloc(sizeof *gsz * (n ? n : 1));
    TRY_ALLOC(gid);
    TRY_ALLOC(gsz);
    /* Groups: tonight's pairs and, for a partial run, the pairs carried from
     * the rows' earlier lists, so the groups cover the whole catalog. */
    int64_t carried = 0;
    gpairs.count = pairs.count;
    size_t pc_count = (size_t)(pairs.count ? pairs.count : 1);
    TRY_ALLOC(gpairs.query = malloc(sizeof *gpairs.query * pc_count));
    TRY_ALLOC(gpairs.cand = malloc(sizeof *gpairs.cand * pc_count));
    TRY_ALLOC(gpairs.fused = malloc(sizeof *gpairs.fused * pc_count));
    memcpy(gpairs.query, pairs.query, sizeof *gpairs.query * (size_t)pairs.count);
    memcpy(gpairs.cand, pairs.cand, sizeof *gpairs.cand * (size_t)pairs.count);
    memcpy(gpairs.fused, pairs.fused, sizeof *gpairs.fused * (size_t)pairs.count);
    if (partial) TRY(carry_pairs(c, n, usable, queried, &gpairs, &carried));
    TRY(fuse_groups(&gpairs, thr, n, gid, gsz));
    int64_t ngroups = 0, grouped = 0;
    for (int64_t r = 0; r < n; r++) {
        ngroups += gid[r] == r && gsz[r] > 1;
        grouped += gsz[r] > 1;
    }

    /* output */
    offs = malloc(sizeof *offs * dist_size());
    TRY_ALLOC(offs);
    TRY(dist_allgather_i64(&nq, 1, offs));
    int64_t total = 0, off = 0;
    for (int r = 0; r < dist_size(); r++) {
        if (r == dist_rank()) off = total;
        total += offs[r];
    }
    char grp[160];
    snprintf(grp, sizeof grp, "/similarity/%s", run.id);
    TRY(write_table(c, grp, "query_rows", H5T_NATIVE_INT64, total, 0, off, nq, queries));
    TRY(write_table(c, grp, "neighbours", H5T_NATIVE_INT64, total, k, off, nq, fl.index));
    TRY(write_table(c, grp, "score_image", H5T_NATIVE_FLOAT, total, k, off, nq, fl.s_img));
    TRY(write_table(c, grp, "score_name", H5T_NATIVE_FLOAT, total, k, off, nq, fl.s_name));
    TRY(write_table(c, grp, "score_jaccard", H5T_NATIVE_FLOAT, total, k, off, nq, fl.s_jaccard));
    TRY(write_table(c, grp, "score_fused", H5T_NATIVE_FLOAT, total, k, off, nq, fl.fused));
    TRY(write_table(c, grp, "image_neighbours", H5T_NATIVE_INT64, total, k, off, nq, img.index));
    TRY(write_table(c, grp, "image_scores", H5T_NATIVE_FLOAT, total, k, off, nq, img.score));
    TRY(write_table(c, grp, "name_neighbours", H5T_NATIVE_INT64, total, k, off, nq, nm.index));
    TRY(write_table(c, grp, "name_scores", H5T_NATIVE_FLOAT, total, k, off, nq, nm.score));
    int64_t pb, pe;
    dist_shard_range(n, dist_rank(), dist_size(), &pb, &pe);
    TRY(write_table(c, grp, "group_id", H5T_NATIVE_INT64, n, 0, pb, pe - pb, gid + pb));
    TRY(write_table(c, grp, "group_size", H5T_NATIVE_INT64, n, 0, pb, pe - pb, gsz + pb));
    TRY(catalog_set_attr_i64(c, grp, "k", k));
    TRY(catalog_set_attr_i64(c, grp, "block", block));
    TRY(catalog_set_attr_i64(c, grp, "ngram", ngram));
    TRY(catalog_set_attr_f64(c, grp, "w_img", w_img));
    TRY(catalog_set_attr_f64(c, grp, "w_name", w_name));
    TRY(catalog_set_attr_f64(c, grp, "duplicate_threshold", thr));
    TRY(catalog_set_attr_str(c, grp, "backbone", backbone));
    TRY(catalog_set_attr_str(c, grp, "query", query_mode));
    TRY(catalog_set_attr_str(c, grp, "run", run.id));
    TRY(catalog_set_attr_i64(c, grp, "carried_rows", carried));
    TRY(catalog_mark_complete(c, grp));

    /* The rows queried tonight need no similarity any more: their flags are
     * cleared in this transaction, so they are committed with the results or
     * not at all. Rank 0 writes the whole column. */
    if (!needs) { /* a catalog from before the flag: every active row needed it */
        TRY_ALLOC(needs = calloc((size_t)n + 1, 1));
        for (int64_t r = 0; r < n; r++) needs[r] = !status || status[r] != PRODUCT_REMOVED;
    }
    int64_t flagged_left = 0;
    for (int64_t r = 0; r < n; r++) {
        if (queried[r]) needs[r] = 0;
        flagged_left += needs[r] != 0;
    }
    if (!have_needs) {
        hsize_t nd1[1] = {(hsize_t)n};
        TRY(catalog_create_dataset(c, "/products/needs_similarity", H5T_NATIVE_UINT8, 1, nd1, NULL, 1,
                                   cfg->catalog.deflate));
    } else if (needs_rows < n) {
        TRY(catalog_extend(c, "/products/needs_similarity", n));
    }
    TRY(catalog_write_rows(c, "/products/needs_similarity", H5T_NATIVE_UINT8, 0,
                           dist_rank() == 0 ? n : 0, needs));

    int64_t tmax[2] = {(int64_t)(t_names * 1e6), (int64_t)(t_img * 1e6)};
    TRY(dist_allreduce_max_i64(tmax, 2));
    run_add_timing(&run, "names", tmax[0] / 1e6);
    run_add_timing(&run, "image_knn", tmax[1] / 1e6);
    snprintf(metrics, sizeof metrics,
             "{\"queries\": %lld, \"query_mode\": \"%s\", \"carried_rows\": %lld, "
             "\"needs_similarity_left\": %lld, \"k\": %d, \"duplicate_groups\": %lld, \"products_in_groups\": %lld, "
             "\"bad_features\": %lld, \"bad_names\": %lld, \"learned\": %s, \"auc_fixed\": %.6g, "
             "\"auc_learned\": %.6g, \"w_learned\": [%.6g, %.6g, %.6g]}",
             (long long)total, query_mode, (long long)carried, (long long)flagged_left, k,
             (long long)ngroups, (long long)grouped, (long long)bad_feats,
             (long long)bad_names, learned ? "true" : "false", isnan(auc_fixed) ? -1 : auc_fixed,
             isnan(auc_learned) ? -1 : auc_learned, w[0], w[1], w[2]);
    TRY(run_set_metrics(&run, metrics));
    in_run = 0;
    TRY(run_end(c, &run));
    in_txn = 0;
    TRY(catalog_commit(&txn));
    log_info("similarity", "%lld queries, %lld near-duplicate groups (%lld products) -> %s in %s",
             (long long)total, (long long)ngroups, (long long)grouped, grp, ctx.pos[0]);
    if (dist_rank() == 0) printf("%s\n", run.id);
fail:
    cli_fail_fast(&self, rc);
    if (in_run) run_free(&run);
    if (in_txn) catalog_abort(&txn, 0);
    if (name_t >= 0) H5Tclose(name_t);
    name_index_free(ix);
    knn_lists_free(&img);
    knn_lists_free(&nm);
    fused_lists_free(&fl);
    fused_pairs_free(&pairs);
    fused_pairs_free(&gpairs);
    free(needs); free(queried);
    free(feats); free(name_img); free(usable); free(valid); free(status); free(dirty);
    free(y); free(tr); free(ev); free(names); free(labels); free(queries); free(pq); free(pc);
    free(gid); free(gsz); free(offs);
    cli_ctx_free(&ctx);
    return rc;
}
