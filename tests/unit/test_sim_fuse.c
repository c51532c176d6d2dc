/* test_sim_fuse.c - fused lists, union-find groups (pairs split over ranks),
 * logistic-regression weights vs the generating model, AUC vs brute force. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "similarity/fuse.h"
#include "util/status.h"
#include "testlib.h"

static uint64_t st = 12345;
static double rnd(void) {
    uint64_t z = (st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static void test_lists(void) {
    char names[10][32] = {"blue shirt", "red cap", "x", "blue shirts", "y", "blue shirt men",
                          "z", "w", "v", "u"};
    struct name_index *ix = NULL;
    EXPECT_INT(name_index_build(&names[0][0], 32, 10, 3, &ix, NULL), ST_OK);
    if (!ix) return;
    int64_t qr = 0;
    int64_t ii[2] = {5, 3}, ni[2] = {3, 9};
    float is[2] = {0.9f, 0.8f}, ns[2] = {0.7f, 0.6f}, nis[2] = {0.8f, 0.1f};
    struct knn_lists img = {1, 2, &qr, ii, is}, nm = {1, 2, &qr, ni, ns};
    struct fused_lists fl;
    struct fused_pairs fp;
    EXPECT_INT(fuse_lists(&img, &nm, nis, ix, 0.6, 0.4, &fl, &fp), ST_OK);
    float s05 = name_index_cosine(ix, 0, 5);
    EXPECT(s05 > 0 && s05 < 1, "cosine(0,5) = %g", s05);
    EXPECT_INT(fp.count, 3); /* union {5, 3, 9} */
    /* fused: 3 -> .6*.8+.4*.7 = .76; 5 -> .6*.9+.4*s05; 9 -> .6*.1+.4*.6 = .30 */
    double f5 = 0.6 * 0.9 + 0.4 * s05;
    int64_t first = f5 > 0.76 ? 5 : 3;
    EXPECT_INT(fl.index[0], first);
    EXPECT_NEAR(fl.fused[first == 5 ? 1 : 0], 0.76, 1e-6);
    EXPECT_NEAR(fl.fused[first == 5 ? 0 : 1], f5, 1e-6);
    EXPECT_NEAR(fl.s_jaccard[first == 3 ? 0 : 1], 1.0 / 3.0, 1e-7); /* {blue} of {blue, shirt, shirts} */
    for (int64_t i = 0; i < fp.count; i++)
        if (fp.cand[i] == 9) {
            EXPECT_NEAR(fp.fused[i], 0.30, 1e-6);
            EXPECT_NEAR(fp.s_img[i], 0.1, 1e-7);
        }
    fused_lists_free(&fl);
    fused_pairs_free(&fp);
    name_index_free(ix);
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) return 1;
    int rank = dist_rank(), size = dist_size();
    if (rank == 0) test_lists();

    /* groups: 0-3, 3-7 and 8-9 above the threshold, 1-2 below; pairs dealt
     * round-robin to ranks */
    int64_t pq[4] = {0, 3, 8, 1}, pc[4] = {3, 7, 9, 2};
    float pf[4] = {0.95f, 0.91f, 0.99f, 0.5f};
    struct fused_pairs gp = {0};
    int64_t mq[4], mc[4];
    float mf[4];
    for (int i = 0; i < 4; i++)
        if (i % size == rank) {
            mq[gp.count] = pq[i];
            mc[gp.count] = pc[i];
            mf[gp.count] = pf[i];
            gp.count++;
        }
    gp.query = mq;
    gp.cand = mc;
    gp.fused = mf;
    int64_t gid[10], gsz[10];
    EXPECT_INT(fuse_groups(&gp, 0.9, 10, gid, gsz), ST_OK);
    int64_t want_id[10] = {0, 1, 2, 0, 4, 5, 6, 0, 8, 8}, want_sz[10] = {3, 1, 1, 3, 1, 1, 1, 3, 2, 2};
    for (int r = 0; r < 10; r++) {
        EXPECT_INT(gid[r], want_id[r]);
        EXPECT_INT(gsz[r], want_sz[r]);
    }

    /* logistic regression recovers the generating weights (3, 5, -4) */
    int64_t n = 40000, b, e;
    dist_shard_range(n, rank, size, &b, &e);
    struct fused_pairs lp = {0};
    lp.count = e - b;
    lp.s_img = malloc(sizeof(float) * (lp.count + 1));
    lp.s_name = malloc(sizeof(float) * (lp.count + 1));
    uint8_t *y = malloc(lp.count + 1), *use = malloc(lp.count + 1);
    float *sc = malloc(sizeof(float) * (lp.count + 1));
    for (int64_t i = 0; i < n; i++) {
        double x0 = rnd(), x1 = rnd(), u = rnd();
        if (i < b || i >= e) continue;
        int64_t j = i - b;
        lp.s_img[j] = (float)x0;
        lp.s_name[j] = (float)x1;
        y[j] = u < 1.0 / (1.0 + exp(-(3 * x0 + 5 * x1 - 4)));
        use[j] = 1;
        sc[j] = (float)(3 * x0 + 5 * x1);
    }
    double w[3];
    EXPECT_INT(fuse_learn(&lp, y, use, 1e-6, w), ST_OK);
    EXPECT_NEAR(w[0], 3.0, 0.3);
    EXPECT_NEAR(w[1], 5.0, 0.3);
    EXPECT_NEAR(w[2], -4.0, 0.3);

    /* AUC with ties vs an O(n^2) count on the gathered data (first 600) */
    int64_t m = lp.count < 300 ? lp.count : 300;
    for (int64_t j = 0; j < m; j++) sc[j] = roundf(sc[j] * 4) / 4; /* make ties */
    double auc = 0;
    int64_t np = 0, nn = 0;
    EXPECT_INT(fuse_auc(sc, y, use, m, &auc, &np, &nn), ST_OK);
    /* brute force over every rank's first m items, regenerated here */
    float *all_s = malloc(sizeof(float) * 300 * size);
    uint8_t *all_y = malloc(300 * size);
    int tot = 0;
    for (int r = 0; r < size; r++) {
        int64_t rb, re;
        dist_shard_range(n, r, size, &rb, &re);
        st = 12345;
        for (int64_t i = 0; i < rb + 300 && i < re; i++) {
            double x0 = rnd(), x1 = rnd(), u = rnd();
            if (i < rb) continue;
            all_s[tot] = roundf((float)(3 * x0 + 5 * x1) * 4) / 4;
            all_y[tot++] = u < 1.0 / (1.0 + exp(-(3 * x0 + 5 * x1 - 4)));
        }
    }
    double num = 0;
    int64_t P = 0, N = 0;
    for (int i = 0; i < tot; i++) {
        if (all_y[i]) P++;
        else N++;
        for (int j = 0; j < tot; j++)
            if (all_y[i] && !all_y[j]) num += all_s[i] > all_s[j] ? 1 : all_s[i] == all_s[j] ? 0.5 : 0;
    }
    EXPECT_INT(np, P);
    EXPECT_INT(nn, N);
    EXPECT_NEAR(auc, num / ((double)P * (double)N), 1e-12);
    free(all_s); free(all_y);
    free(lp.s_img); free(lp.s_name); free(y); free(use); free(sc);
    int fails = t_fail_;
    MPI_Allreduce(MPI_IN_PLACE, &fails, 1, MPI_INT, MPI_SUM, dist_comm());
    int code = TEST_END();
    if (fails && !code) code = 1;
    dist_finalize();
    return code;
}
