/* test_report_make.c - helper of tests/sh/report_*.sh: makes a small catalog
 * through the catalog API, as ingest + extract would leave it, for
 * `assort train`, `assort similarity` and `assort report` to run on.
 *   test_report_make FILE
 * 480 products, 2 levels (master: 3 classes, type: 8 classes), names of
 * brand + colour + type (products 6 and 7, a near-duplicate pair, are named
 * `<script>alert(1)</script> & "x"` to check HTML escaping), 40x40 synthetic images (a coloured shape per type
 * on white), 32-dim features (a class signal + the colour + noise; products
 * 3k and 3k+1 for k < 40 are near-duplicates: same name, nearly the same
 * features), 6 unlabelled and 4 removed products. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "dist/dist.h"
#include "util/status.h"

enum { N = 480, D = 32, S = 40, TYPES = 8 };
static const char *types[TYPES] = {"Tshirts", "Shirts", "Jeans", "Watches", "Socks", "Caps",
                                   "Belts", "Sandals"};
static const int master_of[TYPES] = {0, 0, 0, 1, 0, 1, 1, 2};
static const char *masters[3] = {"Apparel", "Accessories", "Footwear"};
static const char *colours[6] = {"Navy Blue", "Red", "Black", "Green", "Yellow", "Purple"};
static const unsigned char rgb[6][3] = {{30, 50, 120}, {200, 40, 40}, {30, 30, 30},
                                        {40, 150, 70}, {230, 200, 40}, {120, 60, 160}};

static uint64_t rs = 12345;
static double rnd(void) { /* splitmix64 -> [-0.5, 0.5) */
    uint64_t z = (rs += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0 - 0.5;
}

/* A shape per type: 0 box, 1 box with collar, 2 two legs, 3 ring, 4 small
 * box, 5 half disc, 6 thin bar, 7 sole. */
static int inside(int t, int x, int y) {
    double cx = x - S / 2.0 + 0.5, cy = y - S / 2.0 + 0.5, r = sqrt(cx * cx + cy * cy);
    switch (t) {
    case 0: return fabs(cx) < 12 && fabs(cy) < 14;
    case 1: return fabs(cx) < 12 && fabs(cy) < 14 && !(fabs(cx) < 3 && cy < -8);
    case 2: return fabs(cy) < 16 && fabs(cx) < 10 && !(fabs(cx) < 2 && cy > -6);
    case 3: return r < 13 && r > 8;
    case 4: return fabs(cx) < 6 && fabs(cy) < 10;
    case 5: return r < 14 && cy < 2;
    case 6: return fabs(cx) < 17 && fabs(cy) < 3;
    default: return fabs(cy - 6) < 5 && fabs(cx) < 16;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_report_make FILE\n");
        return 2;
    }
    if (dist_init(&argc, &argv) != ST_OK) return 1;
    static char ids[N][CATALOG_ID_BYTES], names[N][CATALOG_NAME_BYTES];
    static float feats[N * D];
    static uint8_t pix[(size_t)N * S * S * 3], valid[N], status[N], dirty[N];
    static int32_t labels[N * 2];
    for (int i = 0; i < N; i++) {
        int dup = i % 3 == 1 && i < 120;   /* near-duplicate of row i - 1 */
        int src = dup ? i - 1 : i;
        int t = (int)((src * 7919u) % TYPES), col = (int)((src * 31u / 7u) % 6);
        snprintf(ids[i], sizeof ids[i], "P%05d", 10000 + i);
        if (src == 6)   /* rows 6 and 7: a near-duplicate pair, shown in the groups */
            snprintf(names[i], sizeof names[i], "<script>alert(1)</script> & \"x\"");
        else
            snprintf(names[i], sizeof names[i], "Brand%d Men %s %s", src % 23, colours[col], types[t]);
        labels[2 * i] = master_of[t];
        labels[2 * i + 1] = t;
        if (i % 79 == 5) labels[2 * i + 1] = -1, labels[2 * i] = -1;   /* unlabelled */
        status[i] = i % 113 == 50 ? PRODUCT_REMOVED : PRODUCT_ACTIVE;
        valid[i] = 1;
        dirty[i] = 0;
        uint64_t keep = rs;
        for (int j = 0; j < D; j++) {
            double v = 0.9 * rnd();
            if (j == t) v += 1.6;
            if (j == TYPES + col) v += 1.0;
            if (j == 16 + src % 16) v += 1.5;   /* item identity */
            feats[i * D + j] = (float)v;
        }
        if (dup) { /* same item: previous features + small noise */
            rs = keep;
            for (int j = 0; j < D; j++) feats[i * D + j] = feats[(i - 1) * D + j] + (float)(0.05 * rnd());
        }
        uint8_t *p = pix + (size_t)i * S * S * 3;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int in = inside(t, x, y);
                for (int ch = 0; ch < 3; ch++) {
                    int v = in ? rgb[col][ch] + (int)(40 * rnd()) : 250;
                    p[(y * S + x) * 3 + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
    }
    struct catalog_txn txn;
    int rc = catalog_begin(argv[1], "ingest", 1, &txn);
    if (rc != ST_OK) goto done;
    struct catalog *c = txn.cat;
    hid_t it = catalog_str_type(CATALOG_ID_BYTES), nt = catalog_str_type(CATALOG_NAME_BYTES);
    hid_t ct = catalog_str_type(CATALOG_CLASS_BYTES);
    hsize_t d1[1] = {N}, dl[2] = {N, 2}, df[2] = {N, D}, dp[4] = {N, S, S, 3};
    hsize_t dlev[1] = {2}, dm[1] = {3}, dt[1] = {TYPES};
    char lev[2][CATALOG_CLASS_BYTES] = {"master", "type"};
    static char mn[3][CATALOG_CLASS_BYTES], tn[TYPES][CATALOG_CLASS_BYTES];
    for (int k = 0; k < 3; k++) snprintf(mn[k], sizeof mn[k], "%s", masters[k]);
    for (int k = 0; k < TYPES; k++) snprintf(tn[k], sizeof tn[k], "%s", types[k]);
    int r0 = dist_rank() == 0;
    int64_t cnt = r0 ? N : 0;
    if (!rc) rc = catalog_create_dataset(c, "/products/id", it, 1, d1, NULL, 1, 0);
    if (!rc) rc = catalog_write_rows(c, "/products/id", it, 0, cnt, ids);
    if (!rc) rc = catalog_create_dataset(c, "/products/name", nt, 1, d1, NULL, 1, 0);
    if (!rc) rc = catalog_write_rows(c, "/products/name", nt, 0, cnt, names);
    if (!rc) rc = catalog_create_dataset(c, "/products/labels", H5T_NATIVE_INT32, 2, dl, NULL, 1, 0);
    if (!rc) rc = catalog_write_rows(c, "/products/labels", H5T_NATIVE_INT32, 0, cnt, labels);
    if (!rc) rc = catalog_create_dataset(c, "/products/status", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0);
    if (!rc) rc = catalog_write_rows(c, "/products/status", H5T_NATIVE_UINT8, 0, cnt, status);
    if (!rc) rc = catalog_create_dataset(c, "/products/dirty", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0);
    if (!rc) rc = catalog_write_rows(c, "/products/dirty", H5T_NATIVE_UINT8, 0, cnt, dirty);
    if (!rc) rc = catalog_write_small(c, "/categories/levels", ct, 1, dlev, lev);
    if (!rc) rc = catalog_write_small(c, "/categories/master", ct, 1, dm, mn);
    if (!rc) rc = catalog_write_small(c, "/categories/type", ct, 1, dt, tn);
    if (!rc) rc = catalog_create_dataset(c, "/images/pixels", H5T_NATIVE_UINT8, 4, dp, NULL, 1, 0);
    if (!rc) rc = catalog_write_rows(c, "/images/pixels", H5T_NATIVE_UINT8, 0, cnt, pix);
    if (!rc) rc = catalog_set_attr_i64(c, "/images", "image_size", S);
    if (!rc) rc = catalog_set_attr_str(c, "/images", "fit", "pad");
    if (!rc) rc = catalog_mark_complete(c, "/images");
    if (!rc) rc = catalog_create_dataset(c, "/features/lite0/data", H5T_NATIVE_FLOAT, 2, df, NULL, 1, 0);
    if (!rc) rc = catalog_write_rows(c, "/features/lite0/data", H5T_NATIVE_FLOAT, 0, cnt, feats);
    if (!rc) rc = catalog_create_dataset(c, "/features/lite0/valid", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0);
    if (!rc) rc = catalog_write_rows(c, "/features/lite0/valid", H5T_NATIVE_UINT8, 0, cnt, valid);
    if (!rc) rc = catalog_mark_complete(c, "/features/lite0");
    H5Tclose(it), H5Tclose(nt), H5Tclose(ct);
    if (!rc) rc = catalog_commit(&txn);
    else catalog_abort(&txn, 1);
done:
    if (rc) fprintf(stderr, "test_report_make: %s\n", err_msg());
    dist_finalize();
    return rc;
}
