/* A collective write/read round trip of the catalog format on N ranks:
 * each rank writes its shard of per-product datasets (ids, names, labels,
 * pixels), then every rank reads everything back and checks every value
 * against the generator. The script test checks the file with h5dump and
 * `assort info`. Usage: test_catalog_mpi OUT.h5 [rows] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "dist/dist.h"
#include "util/status.h"
#include "testlib.h"

#define S 8 /* pixel side */

static int32_t label_of(int64_t i, int l) { return (int32_t)((i * 7 + l * 3) % (5 + l)) - (i % 11 == 0); }
static uint8_t pix_of(int64_t i, int y, int x, int ch) { return (uint8_t)(i * 31 + y * 7 + x * 3 + ch); }

/* Whole reads of the two datasets of 5,000 rows never written. */
static void read_unwritten(struct catalog *c, const char *when) {
    const char *names[2] = {"/test/unwritten", "/test/unwritten_deflate"};
    for (int k = 0; k < 2; k++) {
        float *u = NULL;
        int64_t rows = 0;
        EXPECT(catalog_read_all(c, names[k], H5T_NATIVE_FLOAT, (void **)&u, &rows) == ST_OK,
               "%s, %s: %s", when, names[k], err_msg());
        EXPECT_INT(rows, 5000);
        free(u);
    }
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) { fprintf(stderr, "%s\n", err_msg()); return 1; }
    const char *path = argc > 1 ? argv[1] : "test_catalog_mpi.h5";
    int64_t n = argc > 2 ? atoll(argv[2]) : 1003;
    int rank = dist_rank(), size = dist_size();
    int64_t b, e;
    dist_shard_range(n, rank, size, &b, &e);
    int64_t m = e - b;
    struct catalog_txn txn;
    int rc = catalog_begin(path, "test", 1, &txn);
    EXPECT(rc == ST_OK, "catalog_begin: %s", err_msg());
    if (rc != ST_OK) return TEST_END();
    struct catalog *c = txn.cat;
    hid_t ids_t = catalog_str_type(CATALOG_ID_BYTES), name_t = catalog_str_type(CATALOG_NAME_BYTES);
    hsize_t d1[1] = {(hsize_t)n}, d2[2] = {(hsize_t)n, 2}, d4[4] = {(hsize_t)n, S, S, 3};
    hsize_t c4[4] = {4, S, S, 3};
    EXPECT(catalog_create_dataset(c, "/products/id", ids_t, 1, d1, NULL, 1, 0) == ST_OK, "%s", err_msg());
    EXPECT(catalog_create_dataset(c, "/products/name", name_t, 1, d1, NULL, 1, 0) == ST_OK, "%s", err_msg());
    EXPECT(catalog_create_dataset(c, "/products/labels", H5T_NATIVE_INT32, 2, d2, NULL, 1, 0) == ST_OK, "%s", err_msg());
    EXPECT(catalog_create_dataset(c, "/images/pixels", H5T_NATIVE_UINT8, 4, d4, c4, 1, 0) == ST_OK, "%s", err_msg());

    char *ids = calloc((size_t)(m ? m : 1), CATALOG_ID_BYTES);
    char *names = calloc((size_t)(m ? m : 1), CATALOG_NAME_BYTES);
    int32_t *labels = malloc(sizeof(int32_t) * 2 * (size_t)(m ? m : 1));
    uint8_t *pix = malloc((size_t)(m ? m : 1) * S * S * 3);
    for (int64_t i = 0; i < m; i++) {
        int64_t g = b + i;
        snprintf(ids + i * CATALOG_ID_BYTES, CATALOG_ID_BYTES, "P%06lld", (long long)g);
        snprintf(names + i * CATALOG_NAME_BYTES, CATALOG_NAME_BYTES, "Produit n\xc2\xb0%lld \xe2\x80\x94 caf\xc3\xa9", (long long)g);
        labels[2 * i] = label_of(g, 0);
        labels[2 * i + 1] = label_of(g, 1);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int ch = 0; ch < 3; ch++) pix[((i * S + y) * S + x) * 3 + ch] = pix_of(g, y, x, ch);
    }
    EXPECT(catalog_write_rows(c, "/products/id", ids_t, b, m, ids) == ST_OK, "%s", err_msg());
    EXPECT(catalog_write_rows(c, "/products/name", name_t, b, m, names) == ST_OK, "%s", err_msg());
    EXPECT(catalog_write_rows(c, "/products/labels", H5T_NATIVE_INT32, b, m, labels) == ST_OK, "%s", err_msg());
    EXPECT(catalog_write_rows(c, "/images/pixels", H5T_NATIVE_UINT8, b, m, pix) == ST_OK, "%s", err_msg());
    const char lv[2][CATALOG_CLASS_BYTES] = {"coarse", "fine"};
    hid_t cls_t = catalog_str_type(CATALOG_CLASS_BYTES);
    hsize_t dl[1] = {2};
    EXPECT(catalog_write_small(c, "/categories/levels", cls_t, 1, dl, lv) == ST_OK, "%s", err_msg());
    EXPECT(catalog_mark_complete(c, "/images") == ST_OK, "%s", err_msg());
    /* Rows created or added but never written have storage (the MPI-IO
     * driver allocates early), so catalog_read_all's check against the
     * file's storage (a header declaring more than the file holds is refused)
     * accepts them, filtered or not, in this writing session and after. */
    hsize_t du[2] = {0, 3}, cu[2] = {64, 3};
    EXPECT(catalog_create_dataset(c, "/test/unwritten", H5T_NATIVE_FLOAT, 2, du, cu,
                                  CATALOG_EXTENDIBLE | CATALOG_NO_FILL, 0) == ST_OK, "%s", err_msg());
    EXPECT(catalog_create_dataset(c, "/test/unwritten_deflate", H5T_NATIVE_FLOAT, 2, du, cu,
                                  CATALOG_EXTENDIBLE, 6) == ST_OK, "%s", err_msg());
    EXPECT(catalog_extend(c, "/test/unwritten", 5000) == ST_OK, "%s", err_msg());
    EXPECT(catalog_extend(c, "/test/unwritten_deflate", 5000) == ST_OK, "%s", err_msg());
    read_unwritten(c, "writing session");
    EXPECT(catalog_commit(&txn) == ST_OK, "commit: %s", err_msg());

    /* Read back everything on every rank. */
    struct catalog *r = NULL;
    EXPECT(catalog_open(path, 0, &r) == ST_OK, "open: %s", err_msg());
    if (r) {
        EXPECT_INT(catalog_count(r), n);
        int64_t gen = -1;
        catalog_get_attr_i64(r, "/", "generation", &gen);
        EXPECT_INT(gen, 0);
        EXPECT(catalog_is_complete(r, "/images"), "images group not complete");
        char *all_ids = NULL;
        int32_t *all_labels = NULL;
        uint8_t *all_pix = NULL;
        int64_t rows = 0;
        EXPECT(catalog_read_all(r, "/products/id", ids_t, (void **)&all_ids, &rows) == ST_OK, "%s", err_msg());
        EXPECT(catalog_read_all(r, "/products/labels", H5T_NATIVE_INT32, (void **)&all_labels, NULL) == ST_OK, "%s", err_msg());
        EXPECT(catalog_read_all(r, "/images/pixels", H5T_NATIVE_UINT8, (void **)&all_pix, NULL) == ST_OK, "%s", err_msg());
        int64_t bad = 0;
        for (int64_t g = 0; all_ids && all_labels && all_pix && g < n; g++) {
            char want[CATALOG_ID_BYTES];
            snprintf(want, sizeof want, "P%06lld", (long long)g);
            bad += strcmp(all_ids + g * CATALOG_ID_BYTES, want) != 0;
            bad += all_labels[2 * g] != label_of(g, 0) || all_labels[2 * g + 1] != label_of(g, 1);
            for (int k = 0; k < S * S * 3; k++) {
                int y = k / (S * 3), x = (k / 3) % S, ch = k % 3;
                bad += all_pix[g * S * S * 3 + k] != pix_of(g, y, x, ch);
            }
        }
        EXPECT(bad == 0, "%lld mismatching values after the round trip", (long long)bad);
        read_unwritten(r, "reopened");
        free(all_ids);
        free(all_labels);
        free(all_pix);
        catalog_close(r);
    }
    /* Opening something that is not a catalog fails with ST_DATA. */
    struct catalog *x = NULL;
    EXPECT(catalog_open("/etc/hostname", 0, &x) == ST_DATA, "non-HDF5 file accepted");
    H5Tclose(ids_t); H5Tclose(name_t); H5Tclose(cls_t);
    free(ids); free(names); free(labels); free(pix);
    int res = TEST_END();
    dist_finalize();
    return res;
}
