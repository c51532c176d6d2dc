/* test_extract_rowlist.c - catalog_read_row_list / catalog_write_row_list on
 * 2 ranks: arbitrary sorted lists (runs, singletons, empty on one rank) read
 * the same values as catalog_read_rows row by row, writes land on exactly
 * the listed rows, and bad lists are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "dist/dist.h"
#include "testlib.h"
#include "util/status.h"

#define N 50
#define W 3

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) return 1;
    int rank = dist_rank();
    int64_t pid = getpid();
    dist_bcast_bytes(&pid, sizeof pid, 0);
    char path[256];
    snprintf(path, sizeof path, "/tmp/test_extract_rowlist.%lld.h5", (long long)pid);
    struct catalog *c = NULL;
    EXPECT(catalog_create(path, &c) == ST_OK, "create: %s", err_msg());
    hsize_t dims[2] = {N, W};
    int32_t all[N * W];
    for (int i = 0; i < N * W; i++) all[i] = (i / W) * 10 + i % W;
    EXPECT(catalog_create_dataset(c, "/t/v", H5T_NATIVE_INT32, 2, dims, NULL, 1, 0) == ST_OK, "ds");
    EXPECT(catalog_write_rows(c, "/t/v", H5T_NATIVE_INT32, 0, rank == 0 ? N : 0, all) == ST_OK, "w");

    /* reads: rank 0 runs and singletons, rank 1 nothing; then the other way */
    int64_t l0[] = {0, 1, 2, 7, 9, 10, 11, 30, 49};
    int64_t l1[] = {3, 4, 5, 6, 48};
    for (int round = 0; round < 2; round++) {
        const int64_t *l = (rank == round) ? (round ? l1 : l0) : NULL;
        int64_t n = (rank == round) ? (round ? 5 : 9) : 0;
        int32_t got[9 * W];
        memset(got, 0x7f, sizeof got);
        EXPECT(catalog_read_row_list(c, "/t/v", H5T_NATIVE_INT32, l, n, got) == ST_OK, "read: %s",
               err_msg());
        for (int64_t k = 0; k < n; k++)
            for (int j = 0; j < W; j++)
                EXPECT(got[k * W + j] == all[l[k] * W + j], "row %lld col %d: %d vs %d",
                       (long long)l[k], j, got[k * W + j], all[l[k] * W + j]);
    }
    /* both ranks, overlapping reads of the same rows */
    int64_t both[] = {20, 21, 40};
    int32_t got[3 * W];
    EXPECT(catalog_read_row_list(c, "/t/v", H5T_NATIVE_INT32, both, 3, got) == ST_OK, "read both");
    EXPECT(got[2 * W + 1] == 401, "row 40 col 1 = %d", got[2 * W + 1]);

    /* writes: each rank its own rows */
    int64_t w0[] = {3, 4, 5, 20}, w1[] = {6, 21, 22, 49};
    const int64_t *w = rank == 0 ? w0 : w1;
    int32_t vals[4 * W];
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < W; j++) vals[k * W + j] = -(int32_t)(w[k] * 10 + j) - 1;
    EXPECT(catalog_write_row_list(c, "/t/v", H5T_NATIVE_INT32, w, 4, vals) == ST_OK, "write: %s",
           err_msg());
    int32_t back[N * W];
    EXPECT(catalog_read_rows(c, "/t/v", H5T_NATIVE_INT32, 0, N, back) == ST_OK, "read back");
    int changed = 0, wrong = 0;
    for (int i = 0; i < N; i++) {
        int listed = 0;
        for (int k = 0; k < 4; k++) listed |= w0[k] == i || w1[k] == i;
        for (int j = 0; j < W; j++) {
            int32_t want = listed ? -(i * 10 + j) - 1 : i * 10 + j;
            wrong += back[i * W + j] != want;
            changed += back[i * W + j] != all[i * W + j];
        }
    }
    EXPECT_INT(wrong, 0);
    EXPECT_INT(changed, 8 * W);
    /* empty everywhere is fine */
    EXPECT(catalog_write_row_list(c, "/t/v", H5T_NATIVE_INT32, NULL, 0, NULL) == ST_OK, "empty");
    /* refusals (same on both ranks: raised before any collective call) */
    int64_t unsorted[] = {5, 4}, outside[] = {1, N};
    EXPECT(catalog_read_row_list(c, "/t/v", H5T_NATIVE_INT32, unsorted, 2, got) == ST_ERR, "unsorted");
    EXPECT(strstr(err_msg(), "/t/v") != NULL, "message names the dataset: %s", err_msg());
    EXPECT(catalog_read_row_list(c, "/t/v", H5T_NATIVE_INT32, outside, 2, got) == ST_ERR, "outside");
    EXPECT(catalog_close(c) == ST_OK, "close");
    if (rank == 0) unlink(path);
    int rc = TEST_END();
    dist_finalize();
    return rc;
}
