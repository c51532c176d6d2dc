/* test_classify_cmd.c - helper of tests/sh/classify_cmd.sh.
 *   make FILE    a synthetic catalog: 830 products, levels master_category (3)
 *                and article_type (8 + one rare type), noisy class-centred
 *                features, partly informative names, near-duplicate pairs,
 *                unlabelled / removed / feature-less rows, one name with a
 *                comma, a quote and <script>
 *   check FILE   recomputes the newest /predictions/<run> from the stored
 *                head, name model, similarity lists and split with an
 *                independent double-precision reference (vote rule, weights,
 *                temperature, top-3, flags) and prints a hash of the tables
 *   dump FILE    prints "id<TAB>level<TAB>label<TAB>pred<TAB>confidence<TAB>flags"
 *                per active product, for the CSV/JSONL comparison */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "dist/dist.h"
#include "similarity/names.h"
#include "util/hash.h"
#include "util/status.h"
#include "testlib.h"

#define N 830
#define DIM 32
#define TYPES 9
#define CLS CATALOG_CLASS_BYTES
static uint64_t st = 7;
static double rnd(void) {
    uint64_t z = (st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0 - 0.5;
}

static int make(const char *path) {
    struct catalog_txn txn;
    if (catalog_begin(path, "ingest", 1, &txn) != ST_OK) return 1;
    struct catalog *c = txn.cat;
    static char ids[N][CATALOG_ID_BYTES], names[N][CATALOG_NAME_BYTES];
    static float f[N * DIM], cent[TYPES][DIM];
    static uint8_t valid[N], status[N];
    static int32_t labels[N * 2];
    static char lv[2][CLS] = {"master_category", "article_type"}, mn[3][CLS] = {"Apparel", "Footwear", "Accessories"};
    static char tn[TYPES][CLS] = {"Tshirts", "Shirts", "Jeans", "Sneakers", "Sandals", "Heels",
                                  "Watches", "Belts", "Ties"};
    const char *word[TYPES] = {"Tee", "Shirt", "Denim", "Sneaker", "Sandal", "Heel", "Watch", "Belt", "Tie"};
    const char *col[] = {"Blue", "Red", "Black", "White", "Navy", "Grey"};
    for (int t = 0; t < TYPES; t++)
        for (int j = 0; j < DIM; j++) cent[t][j] = (float)rnd() * 2.0f;
    for (int r = 0; r < N; r++) {
        int t = r < 800 ? r % 8 : 8;              /* 100 per common type, 30 of the rare one */
        if (r >= 800) t = 8;
        int dup = r > 0 && r % 50 == 1;           /* row r duplicates row r - 1 */
        if (dup) t = (r - 1) < 800 ? (r - 1) % 8 : 8;
        snprintf(ids[r], sizeof ids[r], "P%04d", r);
        int w = rnd() < -0.3 ? (int)((rnd() + 0.5) * 7.999) : t; /* 80% informative word */
        if (dup) memcpy(names[r], names[r - 1], sizeof names[r]);
        else snprintf(names[r], sizeof names[r], "Brand%d Men %s %s", r % 37, col[r % 6], word[w]);
        for (int j = 0; j < DIM; j++)
            f[r * DIM + j] = dup ? f[(r - 1) * DIM + j] : cent[t][j] + (float)(1.6 * rnd());
        valid[r] = r != 13;
        status[r] = r == 22 ? PRODUCT_REMOVED : PRODUCT_ACTIVE;
        int unl = r % 41 == 7 || r == 13;                    /* unlabelled products */
        labels[r * 2] = unl ? -1 : (t < 3 ? 0 : t < 6 ? 1 : 2);
        labels[r * 2 + 1] = unl ? -1 : t;
    }
    snprintf(names[5], sizeof names[5], "Shirt, \"quoted\" <script>alert(1)</script> Tee");
    hsize_t d1[1] = {N}, d2[2] = {N, DIM}, dl[2] = {N, 2}, dlv[1] = {2}, dm[1] = {3}, dt[1] = {TYPES};
    hid_t it = catalog_str_type(CATALOG_ID_BYTES), nt = catalog_str_type(CATALOG_NAME_BYTES),
          ct = catalog_str_type(CLS);
    int rc = 0;
    rc |= catalog_create_dataset(c, "/products/id", it, 1, d1, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/products/id", it, 0, N, ids);
    rc |= catalog_create_dataset(c, "/products/name", nt, 1, d1, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/products/name", nt, 0, N, names);
    rc |= catalog_create_dataset(c, "/products/status", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/products/status", H5T_NATIVE_UINT8, 0, N, status);
    rc |= catalog_create_dataset(c, "/products/labels", H5T_NATIVE_INT32, 2, dl, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/products/labels", H5T_NATIVE_INT32, 0, N, labels);
    rc |= catalog_write_small(c, "/categories/levels", ct, 1, dlv, lv);
    rc |= catalog_write_small(c, "/categories/master_category", ct, 1, dm, mn);
    rc |= catalog_write_small(c, "/categories/article_type", ct, 1, dt, tn);
    rc |= catalog_create_dataset(c, "/features/lite0/data", H5T_NATIVE_FLOAT, 2, d2, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/features/lite0/data", H5T_NATIVE_FLOAT, 0, N, f);
    rc |= catalog_create_dataset(c, "/features/lite0/valid", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/features/lite0/valid", H5T_NATIVE_UINT8, 0, N, valid);
    rc |= catalog_mark_complete(c, "/features/lite0");
    H5Tclose(it);
    H5Tclose(nt);
    H5Tclose(ct);
    if (rc || catalog_commit(&txn) != ST_OK) {
        fprintf(stderr, "make: %s\n", err_msg());
        return 1;
    }
    return 0;
}

static void *rd(struct catalog *c, const char *grp, const char *name, hid_t t, int64_t *rows) {
    char p[400];
    void *b = NULL;
    snprintf(p, sizeof p, "%s%s%s", grp, *name ? "/" : "", name);
    if (catalog_read_all(c, p, t, &b, rows) != ST_OK) fprintf(stderr, "read %s: %s\n", p, err_msg());
    return b;
}

static void *rds(struct catalog *c, const char *grp, const char *name, size_t bytes, int64_t *rows) {
    hid_t t = catalog_str_type(bytes);
    void *b = rd(c, grp, name, t, rows);
    H5Tclose(t);
    return b;
}

/* Newest complete group under `parent` into out. */
static int newest(struct catalog *c, const char *parent, char *out, size_t out_bytes) {
    char **runs = NULL;
    int nr = 0, found = 0;
    catalog_list(c, parent, &runs, &nr);
    for (int r = nr - 1; r >= 0 && !found; r--) {
        snprintf(out, out_bytes, "%s/%s", parent, runs[r]);
        found = catalog_is_complete(c, out) == 1;
    }
    catalog_list_free(runs, nr);
    return found;
}

/* Reference softmax in double. */
static void softmax_d(const double *z, int C, double t, double *p) {
    double mx = -INFINITY, s = 0;
    for (int c = 0; c < C; c++) mx = fmax(mx, z[c] / t);
    for (int c = 0; c < C; c++) s += exp(z[c] / t - mx);
    for (int c = 0; c < C; c++) p[c] = exp(z[c] / t - mx) / s;
}

static uint64_t check_level(struct catalog *c, const char *pg, const char *sg, const char *level,
                            int li, int dump, struct name_index *ix) {
    char g[300], hg[300], ng[300];
    snprintf(g, sizeof g, "%s/%s", pg, level);
    snprintf(hg, sizeof hg, "/heads/lite0-%s-linear", level);
    snprintf(ng, sizeof ng, "/heads/name-%s", level);
    EXPECT(catalog_is_complete(c, g) == 1, "%s not complete", g);
    EXPECT(catalog_is_complete(c, ng) == 1, "%s not complete", ng);
    double th = 1, t = 1, wh = 0, wk = 0, wn = 0, rev = 0, mis = 0;
    catalog_get_attr_f64(c, hg, "temperature", &th);
    catalog_get_attr_f64(c, g, "temperature", &t);
    /* the configured weights (run) and the ones this level used (level) */
    double cw[3] = {0, 0, 0}, vtop1 = NAN;
    char *mode = NULL;
    catalog_get_attr_f64(c, pg, "w_head", &cw[0]);
    catalog_get_attr_f64(c, pg, "w_knn", &cw[1]);
    catalog_get_attr_f64(c, pg, "w_name", &cw[2]);
    EXPECT(catalog_get_attr_f64(c, g, "w_head", &wh) == ST_OK, "%s: no w_head", g);
    EXPECT(catalog_get_attr_f64(c, g, "w_knn", &wk) == ST_OK, "%s: no w_knn", g);
    EXPECT(catalog_get_attr_f64(c, g, "w_name", &wn) == ST_OK, "%s: no w_name", g);
    EXPECT(catalog_get_attr_f64(c, g, "val_top1", &vtop1) == ST_OK, "%s: no val_top1", g);
    EXPECT(catalog_get_attr_str(c, g, "weights", &mode) == ST_OK, "%s: no weights mode", g);
    int64_t src_cal = -1;
    double tname = 1, tknn = 1;
    EXPECT(catalog_get_attr_i64(c, g, "sources_calibrated", &src_cal) == ST_OK, "%s: no "
           "sources_calibrated", g);
    catalog_get_attr_f64(c, g, "name_temperature", &tname);
    catalog_get_attr_f64(c, g, "knn_temperature", &tknn);
    catalog_get_attr_f64(c, pg, "review_threshold", &rev);
    catalog_get_attr_f64(c, pg, "mislabel_threshold", &mis);
    int64_t C = 0, nq = 0, k = 0, T = 0;
    float *w1 = rd(c, hg, "w1", H5T_NATIVE_FLOAT, NULL), *b1 = rd(c, hg, "b1", H5T_NATIVE_FLOAT, &C);
    int32_t *map = rd(c, hg, "class_map", H5T_NATIVE_INT32, NULL);
    float *nw = rd(c, ng, "w", H5T_NATIVE_FLOAT, &T), *nbias = rd(c, ng, "b", H5T_NATIVE_FLOAT, NULL);
    int32_t *pred = rd(c, g, "pred", H5T_NATIVE_INT32, NULL), *top3 = rd(c, g, "top3", H5T_NATIVE_INT32, NULL);
    float *conf = rd(c, g, "confidence", H5T_NATIVE_FLOAT, NULL);
    float *t3s = rd(c, g, "top3_scores", H5T_NATIVE_FLOAT, NULL);
    uint8_t *flags = rd(c, g, "flags", H5T_NATIVE_UINT8, NULL);
    char *cls = rds(c, g, "classes", CLS, NULL), *orig = NULL;
    char cat[300];
    snprintf(cat, sizeof cat, "/categories/%s", level);
    orig = rds(c, cat, "", CLS, NULL);
    int64_t *q = rd(c, sg, "query_rows", H5T_NATIVE_INT64, &nq);
    int64_t *nb = rd(c, sg, "neighbours", H5T_NATIVE_INT64, NULL);
    float *sf = rd(c, sg, "score_fused", H5T_NATIVE_FLOAT, NULL);
    int64_t *gsz = rd(c, sg, "group_size", H5T_NATIVE_INT64, NULL);
    catalog_get_attr_i64(c, sg, "k", &k);
    float *x = rd(c, "/features/lite0/data", "", H5T_NATIVE_FLOAT, NULL);
    uint8_t *valid = rd(c, "/features/lite0/valid", "", H5T_NATIVE_UINT8, NULL);
    uint8_t *status = rd(c, "/products/status", "", H5T_NATIVE_UINT8, NULL);
    int32_t *labels = rd(c, "/products/labels", "", H5T_NATIVE_INT32, NULL);
    int8_t *split = rd(c, "/splits/article_type", "", H5T_NATIVE_INT8, NULL);
    char *ids = rds(c, "/products/id", "", CATALOG_ID_BYTES, NULL);
    if (!w1 || !b1 || !map || !nw || !nbias || !pred || !top3 || !conf || !flags || !q || !nb ||
        !x || !split || !cls || !orig || !ids || !t3s || !gsz) {
        EXPECT(0, "missing datasets for %s", level);
        return 0;
    }
    EXPECT_INT(T, name_index_terms(ix));
    static int64_t row_q[N];
    for (int r = 0; r < N; r++) row_q[r] = -1;
    for (int64_t i = 0; i < nq; i++) row_q[q[i]] = i;
    int bad_pred = 0, bad_conf = 0, bad_top = 0, bad_flag = 0, bad_nc = 0, leak_checked = 0;
    double zh[16], zn[16], ph[16], pn[16], pk[16], s[16], qq[16];
    /* validation rows for the weight-search check: sources (n_val, C) in double */
    static double vph[N * 16], vpk[N * 16], vpn[N * 16];
    static int vhk[N], vhn[N], vy[N];
    int nv = 0;
    for (int r = 0; r < N; r++) {
        int usable = valid[r] && status[r] != PRODUCT_REMOVED;
        int32_t lab = labels[r * 2 + li];
        int32_t hc = lab >= 0 ? map[lab] : -1;
        if (dump && status[r] != PRODUCT_REMOVED)
            printf("%.64s\t%s\t%s\t%s\t%.6f\t%d\n", ids + (size_t)r * CATALOG_ID_BYTES, level,
                   lab >= 0 ? orig + (size_t)lab * CLS : "",
                   pred[r] >= 0 ? cls + (size_t)pred[r] * CLS : "", pred[r] >= 0 ? conf[r] : 0.0,
                   flags[r]);
        if (!usable) {
            bad_nc += pred[r] != -1 || !(flags[r] & 8);
            continue;
        }
        for (int cc = 0; cc < C; cc++) {
            zh[cc] = b1[cc];
            for (int j = 0; j < DIM; j++) zh[cc] += (double)x[r * DIM + j] * w1[j * C + cc];
            zn[cc] = nbias[cc];
            pk[cc] = 0;
        }
        const int32_t *tt;
        const float *tw;
        int64_t ntt = name_index_vector(ix, r, &tt, &tw);
        for (int64_t j = 0; j < ntt; j++)
            for (int cc = 0; cc < C; cc++) zn[cc] += (double)tw[j] * nw[(size_t)tt[j] * C + cc];
        softmax_d(zh, (int)C, th, ph);
        softmax_d(zn, (int)C, src_cal == 1 ? tname : 1.0, pn);
        /* the vote, with the leakage rule written out again */
        double tot = 0;
        int evaluated = split[r] == 1 || split[r] == 2;
        for (int j = 0; row_q[r] >= 0 && j < k; j++) {
            int64_t o = nb[row_q[r] * k + j];
            if (o < 0 || o == r) continue;
            int32_t ol = labels[o * 2 + li];
            if (ol < 0 || map[ol] < 0) continue;
            if (evaluated && split[o] != 0) continue;
            if (evaluated) leak_checked++;
            double wv = sf[row_q[r] * k + j] > 0 ? sf[row_q[r] * k + j] : 0;
            pk[map[ol]] += wv;
            tot += wv;
        }
        if (src_cal == 1 && tot > 0) { /* q = softmax(log(max(p, 1e-12)) / T) of the vote */
            double lp[16];
            for (int cc = 0; cc < C; cc++) lp[cc] = log(fmax(pk[cc] / tot, 1e-12));
            softmax_d(lp, (int)C, tknn, pk);
            tot = 1;
        }
        if (split[r] == 1 && hc >= 0) {
            for (int cc = 0; cc < C; cc++) {
                vph[nv * 16 + cc] = ph[cc], vpn[nv * 16 + cc] = pn[cc];
                vpk[nv * 16 + cc] = tot > 0 ? pk[cc] / tot : 0;
            }
            vhk[nv] = tot > 0, vhn[nv] = ntt > 0, vy[nv++] = hc;
        }
        double wsum = wh + (ntt > 0 ? wn : 0) + (tot > 0 ? wk : 0);
        for (int cc = 0; cc < C; cc++) {
            s[cc] = (wh * ph[cc] + (ntt > 0 ? wn * pn[cc] : 0) + (tot > 0 ? wk * pk[cc] / tot : 0)) / wsum;
            s[cc] = log(s[cc] > 1e-12 ? s[cc] : 1e-12);
        }
        softmax_d(s, (int)C, t, qq);
        int best = 0, second = -1;
        for (int cc = 1; cc < C; cc++)
            if (qq[cc] > qq[best]) best = cc;
        for (int cc = 0; cc < C; cc++)
            if (cc != best && (second < 0 || qq[cc] > qq[second])) second = cc;
        if (pred[r] != best && fabs(qq[pred[r]] - qq[best]) > 1e-5) bad_pred++;
        if (fabs(conf[r] - qq[best]) > 1e-4) bad_conf++;
        if (fabs(t3s[r * 3 + 1] - qq[second]) > 1e-4 || t3s[r * 3 + 2] > t3s[r * 3 + 1] ||
            top3[r * 3] != pred[r])
            bad_top++;
        int want = (conf[r] < rev ? 1 : 0) | (hc >= 0 && hc != pred[r] && conf[r] >= mis ? 2 : 0) |
                   (gsz[r] > 1 ? 4 : 0);
        if (flags[r] != want) bad_flag++;
    }
    EXPECT_INT(bad_nc, 0);
    EXPECT_INT(bad_pred, 0);
    EXPECT_INT(bad_conf, 0);
    EXPECT_INT(bad_top, 0);
    EXPECT_INT(bad_flag, 0);
    EXPECT(leak_checked > 100, "only %d train-split votes for evaluated products", leak_checked);
    /* classify.weights=search, written again: every point (a, b, 10-a-b)/10 of the
     * simplex, validation top-1 in double; the used weights must reach the maximum
     * and be the nearest (L1) such point to the configured weights. */
    int best_ok = -1, used_ok = -1;
    double best_dist = INFINITY, used_dist = NAN;
    double cs = cw[0] + cw[1] + cw[2];
    for (int a = 0; a <= 10; a++)
        for (int b = 0; b <= 10 - a; b++) {
            double w[3] = {a / 10.0, b / 10.0, (10 - a - b) / 10.0};
            int ok = 0;
            for (int i = 0; i < nv; i++) {
                double sum = w[0] + (vhk[i] ? w[1] : 0) + (vhn[i] ? w[2] : 0), v[16];
                int arg = 0;
                for (int cc = 0; cc < C; cc++) {
                    v[cc] = sum > 0 ? (w[0] * vph[i * 16 + cc] + (vhk[i] ? w[1] * vpk[i * 16 + cc] : 0) +
                                       (vhn[i] ? w[2] * vpn[i * 16 + cc] : 0)) / sum
                                    : 1.0 / C;
                    if (v[cc] > v[arg]) arg = cc;
                }
                ok += arg == vy[i];
            }
            double d = fabs(w[0] - cw[0] / cs) + fabs(w[1] - cw[1] / cs) + fabs(w[2] - cw[2] / cs);
            if (ok > best_ok || (ok == best_ok && d < best_dist - 1e-9)) best_ok = ok, best_dist = d;
            if (fabs(w[0] - wh) < 1e-9 && fabs(w[1] - wk) < 1e-9 && fabs(w[2] - wn) < 1e-9)
                used_ok = ok, used_dist = d;
        }
    EXPECT(nv > 30, "%s: only %d validation rows", level, nv);
    if (mode && !strcmp(mode, "search")) {
        EXPECT(used_ok >= 0, "%s: used weights %g/%g/%g are not a grid point", level, wh, wk, wn);
        EXPECT(used_ok == best_ok, "%s: used weights reach val %d correct, the grid's best %d",
               level, used_ok, best_ok);
        EXPECT(fabs(used_dist - best_dist) < 1e-9, "%s: a point as good but nearer the configured "
               "weights exists (%g < %g)", level, best_dist, used_dist);
        EXPECT_NEAR(vtop1, (double)used_ok / nv, 1e-9);
        if (!dump)
            printf("%s: weights %g/%g/%g, val %d/%d correct (configured %g/%g/%g)\n", level, wh,
                   wk, wn, used_ok, nv, cw[0], cw[1], cw[2]);
    } else {
        EXPECT(fabs(wh - cw[0]) + fabs(wk - cw[1]) + fabs(wn - cw[2]) < 1e-12,
               "%s: fixed weights %g/%g/%g differ from the configured ones", level, wh, wk, wn);
    }
    free(mode);
    uint64_t h = hash64(pred, 4 * N) ^ hash64(conf, 4 * N) ^ hash64(top3, 12 * N) ^
                 hash64(t3s, 12 * N) ^ hash64(flags, N);
    free(w1); free(b1); free(map); free(nw); free(nbias); free(pred); free(top3); free(conf);
    free(t3s); free(flags); free(cls); free(orig); free(q); free(nb); free(sf); free(gsz); free(x);
    free(valid); free(status); free(labels); free(split); free(ids);
    return h;
}

static int check(const char *path, int dump) {
    struct catalog *c = NULL;
    if (catalog_open(path, 0, &c) != ST_OK) {
        fprintf(stderr, "%s\n", err_msg());
        return 1;
    }
    char pg[300], sg[300];
    EXPECT(newest(c, "/predictions", pg, sizeof pg), "no complete predictions");
    EXPECT(newest(c, "/similarity", sg, sizeof sg), "no complete similarity run");
    char *names = rds(c, "/products/name", "", CATALOG_NAME_BYTES, NULL);
    struct name_index *ix = NULL;
    if (names) name_index_build(names, CATALOG_NAME_BYTES, N, 3, &ix, NULL);
    uint64_t h = 0;
    if (ix) {
        h ^= check_level(c, pg, sg, "master_category", 0, dump, ix);
        h ^= 31 * check_level(c, pg, sg, "article_type", 1, dump, ix);
    }
    char hex[17];
    hash_hex((const uint8_t *)&h, 8, hex);
    if (!dump) printf("predictions %s hash %s\n", pg, hex);
    name_index_free(ix);
    free(names);
    catalog_close(c);
    if (dump) return t_fail_ ? 1 : 0;
    return TEST_END();
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s make|check|dump FILE\n", argv[0]);
        return 2;
    }
    dist_init(&argc, &argv);
    int rc = 2;
    if (!strcmp(argv[1], "make")) rc = make(argv[2]);
    else if (!strcmp(argv[1], "check")) rc = check(argv[2], 0);
    else if (!strcmp(argv[1], "dump")) rc = check(argv[2], 1);
    dist_finalize();
    return rc;
}
