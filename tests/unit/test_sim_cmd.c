/* test_sim_cmd.c - helper of tests/sh/sim_cmd.sh.
 *   test_sim_cmd make FILE   a catalog of 600 products: 150 base items x 4
 *                            variants (noisy features, variant names), labels
 *   test_sim_cmd check FILE  verifies the newest /similarity/<run> against a
 *                            brute-force double reference and prints a hash of
 *                            its tables (to compare 1- and 2-rank runs) */
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

#define N 600
#define DIM 64
static uint64_t st = 99;
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
    static float f[N * DIM], base[DIM];
    static uint8_t valid[N], status[N], dirty[N];
    static int32_t labels[N * 2];
    const char *col[] = {"Blue", "Red", "Black", "White"};
    const char *kind[] = {"Shirt", "Jeans", "Watch", "Cap", "Saree", "Kurta", "Shoe"};
    for (int b = 0; b < 150; b++) {
        for (int j = 0; j < DIM; j++) base[j] = (float)rnd();
        for (int v = 0; v < 4; v++) {
            int r = b * 4 + v;
            snprintf(ids[r], sizeof ids[r], "P%04d", r);
            snprintf(names[r], sizeof names[r], v == 1 ? "Brand%d Men %s %s" : "Brand%d Men %s %s!",
                     b, v < 2 ? "Blue" : col[v], kind[b % 7]);
            for (int j = 0; j < DIM; j++) f[r * DIM + j] = base[j] + (float)(0.05 * v * rnd());
            valid[r] = r != 13;
            status[r] = r == 22 ? PRODUCT_REMOVED : PRODUCT_ACTIVE;
            dirty[r] = r % 5 == 0;
            labels[r * 2] = b % 3;
            labels[r * 2 + 1] = b % 7;
        }
    }
    hsize_t d1[1] = {N}, d2[2] = {N, DIM}, dl[2] = {N, 2};
    hid_t it = catalog_str_type(CATALOG_ID_BYTES), nt = catalog_str_type(CATALOG_NAME_BYTES);
    int rc = 0;
    rc |= catalog_create_dataset(c, "/products/id", it, 1, d1, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/products/id", it, 0, N, ids);
    rc |= catalog_create_dataset(c, "/products/name", nt, 1, d1, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/products/name", nt, 0, N, names);
    rc |= catalog_create_dataset(c, "/products/status", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/products/status", H5T_NATIVE_UINT8, 0, N, status);
    rc |= catalog_create_dataset(c, "/products/dirty", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/products/dirty", H5T_NATIVE_UINT8, 0, N, dirty);
    rc |= catalog_create_dataset(c, "/products/labels", H5T_NATIVE_INT32, 2, dl, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/products/labels", H5T_NATIVE_INT32, 0, N, labels);
    rc |= catalog_create_dataset(c, "/features/lite0/data", H5T_NATIVE_FLOAT, 2, d2, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/features/lite0/data", H5T_NATIVE_FLOAT, 0, N, f);
    rc |= catalog_create_dataset(c, "/features/lite0/valid", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0);
    rc |= catalog_write_rows(c, "/features/lite0/valid", H5T_NATIVE_UINT8, 0, N, valid);
    rc |= catalog_mark_complete(c, "/features/lite0");
    H5Tclose(it);
    H5Tclose(nt);
    if (rc || catalog_commit(&txn) != ST_OK) {
        fprintf(stderr, "make: %s\n", err_msg());
        return 1;
    }
    return 0;
}

static void *rd(struct catalog *c, const char *grp, const char *name, hid_t t, int64_t *rows) {
    char p[300];
    void *b = NULL;
    snprintf(p, sizeof p, "%s/%s", grp, name);
    if (catalog_read_all(c, p, t, &b, rows) != ST_OK) fprintf(stderr, "read %s: %s\n", p, err_msg());
    return b;
}

static int check(const char *path) {
    struct catalog *c = NULL;
    if (catalog_open(path, 0, &c) != ST_OK) return 1;
    char **runs = NULL;
    int nr = 0;
    catalog_list(c, "/similarity", &runs, &nr);
    EXPECT(nr >= 1, "no similarity run");
    if (nr < 1) return TEST_END();
    char grp[300];
    snprintf(grp, sizeof grp, "/similarity/%s", runs[nr - 1]);
    EXPECT(catalog_is_complete(c, grp) == 1, "%s not complete", grp);
    int64_t k = 0, nq = 0;
    double wi = 0, wn = 0, thr = 0;
    catalog_get_attr_i64(c, grp, "k", &k);
    catalog_get_attr_f64(c, grp, "w_img", &wi);
    catalog_get_attr_f64(c, grp, "w_name", &wn);
    catalog_get_attr_f64(c, grp, "duplicate_threshold", &thr);
    int64_t *q = rd(c, grp, "query_rows", H5T_NATIVE_INT64, &nq);
    int64_t *nb = rd(c, grp, "neighbours", H5T_NATIVE_INT64, NULL);
    int64_t *inb = rd(c, grp, "image_neighbours", H5T_NATIVE_INT64, NULL);
    int64_t *nnb = rd(c, grp, "name_neighbours", H5T_NATIVE_INT64, NULL);
    float *si = rd(c, grp, "score_image", H5T_NATIVE_FLOAT, NULL);
    float *sn = rd(c, grp, "score_name", H5T_NATIVE_FLOAT, NULL);
    float *sf = rd(c, grp, "score_fused", H5T_NATIVE_FLOAT, NULL);
    float *is = rd(c, grp, "image_scores", H5T_NATIVE_FLOAT, NULL);
    float *ns = rd(c, grp, "name_scores", H5T_NATIVE_FLOAT, NULL);
    int64_t *gid = rd(c, grp, "group_id", H5T_NATIVE_INT64, NULL);
    int64_t *gsz = rd(c, grp, "group_size", H5T_NATIVE_INT64, NULL);
    float *f = NULL;
    uint8_t *valid = NULL, *status = NULL;
    char *names = NULL;
    hid_t nt = catalog_str_type(CATALOG_NAME_BYTES);
    catalog_read_all(c, "/features/lite0/data", H5T_NATIVE_FLOAT, (void **)&f, NULL);
    catalog_read_all(c, "/features/lite0/valid", H5T_NATIVE_UINT8, (void **)&valid, NULL);
    catalog_read_all(c, "/products/status", H5T_NATIVE_UINT8, (void **)&status, NULL);
    catalog_read_all(c, "/products/name", nt, (void **)&names, NULL);
    H5Tclose(nt);
    if (!q || !nb || !si || !gid || !f || !names) return TEST_END();
    struct name_index *ix = NULL;
    name_index_build(names, CATALOG_NAME_BYTES, N, 3, &ix, NULL);
    static double fn[N * DIM], dots[N];
    for (int r = 0; r < N; r++) {
        double ss = 0;
        for (int j = 0; j < DIM; j++) ss += (double)f[r * DIM + j] * f[r * DIM + j];
        for (int j = 0; j < DIM; j++) fn[r * DIM + j] = f[r * DIM + j] / sqrt(ss);
    }
    int bad_img = 0, bad_name = 0, bad_fused = 0, bad_group = 0, bad_q = 0;
    for (int64_t i = 0; i < nq; i++) {
        int64_t r = q[i];
        if (!valid[r] || status[r] == PRODUCT_REMOVED) bad_q++;
        for (int cnd = 0; cnd < N; cnd++) {
            dots[cnd] = 0;
            for (int j = 0; j < DIM; j++) dots[cnd] += fn[r * DIM + j] * fn[cnd * DIM + j];
        }
        /* image list: the k best usable by the reference (ties within 1e-6 allowed) */
        for (int j = 0; j < k; j++) {
            int64_t got = inb[i * k + j];
            int better = 0;
            for (int cnd = 0; cnd < N; cnd++)
                if (cnd != r && valid[cnd] && status[cnd] != PRODUCT_REMOVED &&
                    dots[cnd] > dots[got] + 1e-6)
                    better++;
            if (got < 0 || got == r || better > j || fabs(dots[got] - is[i * k + j]) > 1e-5) bad_img++;
        }
        for (int j = 0; j < k; j++) {
            int64_t got = nnb[i * k + j];
            if (got < 0) continue;
            int better = 0;
            for (int cnd = 0; cnd < N; cnd++)
                if (cnd != r && valid[cnd] && status[cnd] != PRODUCT_REMOVED &&
                    name_index_cosine(ix, r, cnd) > ns[i * k + j] + 1e-6)
                    better++;
            if (better > j) bad_name++;
        }
        for (int j = 0; j < k; j++) {
            int64_t got = nb[i * k + j];
            if (got < 0) continue;
            if (fabs(si[i * k + j] - dots[got]) > 1e-5 ||
                fabs(sn[i * k + j] - name_index_cosine(ix, r, got)) > 1e-6 ||
                fabs(sf[i * k + j] - (wi * dots[got] + wn * sn[i * k + j])) > 1e-5 ||
                (j > 0 && sf[i * k + j] > sf[i * k + j - 1]))
                bad_fused++;
            if (sf[i * k + j] >= thr && gid[r] != gid[got]) bad_group++;
        }
    }
    for (int r = 0; r < N; r++) {
        if (gid[r] > r || gid[gid[r]] != gid[r]) bad_group++;
        int64_t cnt = 0;
        for (int s = 0; s < N; s++) cnt += gid[s] == gid[r];
        if (cnt != gsz[r]) bad_group++;
    }
    EXPECT_INT(bad_q, 0);
    EXPECT_INT(bad_img, 0);
    EXPECT_INT(bad_name, 0);
    EXPECT_INT(bad_fused, 0);
    EXPECT_INT(bad_group, 0);
    EXPECT(gsz[0] >= 2, "product 0 should have near-duplicates (group size %lld)", (long long)gsz[0]);
    uint8_t h[16];
    char hex[33];
    size_t kb = (size_t)(nq * k);
    uint64_t acc = hash64(q, sizeof(int64_t) * nq) ^ hash64(nb, 8 * kb) ^ hash64(sf, 4 * kb) ^
                   hash64(si, 4 * kb) ^ hash64(sn, 4 * kb) ^ hash64(inb, 8 * kb) ^
                   hash64(nnb, 8 * kb) ^ hash64(gid, 8 * N) ^ hash64(gsz, 8 * N);
    memcpy(h, &acc, 8);
    hash_hex(h, 8, hex);
    printf("queries %lld hash %s\n", (long long)nq, hex);
    name_index_free(ix);
    free(q); free(nb); free(inb); free(nnb); free(si); free(sn); free(sf); free(is); free(ns);
    free(gid); free(gsz); free(f); free(valid); free(status); free(names);
    catalog_list_free(runs, nr);
    catalog_close(c);
    return TEST_END();
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK || argc < 3) return 2;
    int rc = !strcmp(argv[1], "make") ? make(argv[2]) : check(argv[2]);
    dist_finalize();
    return rc;
}
