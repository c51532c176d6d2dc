/* test_sim_knn.c - exact kNN against a brute-force double-precision
 * reference, top-k heap order and ties, unusable rows.
 * Usage: test_sim_knn [OUT_PREFIX]  (writes OUT_PREFIX.<rank> with the raw
 * lists so tests/sh/sim_knn_ranks.sh can compare 1 and 2 ranks byte for byte). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "similarity/knn.h"
#include "util/status.h"
#include "testlib.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rnd(void) { /* splitmix64 -> [0,1) */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}
static double gauss(void) {
    double u = rnd() + 1e-300, v = rnd();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static void test_topk(void) {
    float sc[4];
    int64_t ix[4];
    struct topk t = {4, 0, sc, ix};
    /* ties at 0.5 among rows 9, 3, 7, 1: the smaller rows win */
    float s_in[] = {0.1f, 0.5f, 0.9f, 0.5f, 0.5f, 0.2f, 0.5f};
    int64_t i_in[] = {0, 9, 5, 3, 7, 2, 1};
    for (int i = 0; i < 7; i++) topk_push(&t, s_in[i], i_in[i]);
    topk_push(&t, NAN, 11);
    topk_finish(&t);
    EXPECT_INT(ix[0], 5);
    EXPECT_INT(ix[1], 1);
    EXPECT_INT(ix[2], 3);
    EXPECT_INT(ix[3], 7);
    EXPECT(sc[0] == 0.9f && sc[3] == 0.5f, "scores %g %g", sc[0], sc[3]);
    /* fewer candidates than k: padded */
    struct topk u = {4, 0, sc, ix};
    topk_push(&u, 0.3f, 8);
    topk_finish(&u);
    EXPECT_INT(ix[0], 8);
    EXPECT_INT(ix[1], -1);
    EXPECT(isinf(sc[3]) && sc[3] < 0, "pad score %g", sc[3]);
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) return 1;
    int rank = dist_rank(), size = dist_size();
    test_topk();

    const int64_t n = 2503;
    const int dim = 200, k = 10, block = 300;
    float *x = malloc(sizeof(float) * n * dim);
    uint8_t *usable = malloc(n);
    for (int64_t i = 0; i < n * dim; i++) x[i] = (float)gauss();
    memset(usable, 1, n);
    /* exact duplicates (ties) and a zero row (unusable) */
    memcpy(x + 17 * dim, x + 1000 * dim, sizeof(float) * dim);
    memcpy(x + 2400 * dim, x + 1000 * dim, sizeof(float) * dim);
    memset(x + 50 * dim, 0, sizeof(float) * dim);
    usable[77] = 0; /* e.g. a removed product */
    int64_t bad = 0;
    knn_normalize_rows(x, n, dim, usable, &bad);
    EXPECT_INT(bad, 1);
    EXPECT_INT(usable[50], 0);

    int64_t b0, b1;
    knn_shard_range(n, block, rank, size, &b0, &b1);
    EXPECT_INT(b0 % block, 0);
    struct knn_shard sh = {x + b0 * dim, b0, b1 - b0, dim, n, usable};
    int64_t qn = b1 - b0;
    int64_t *q = malloc(sizeof *q * (qn ? qn : 1));
    for (int64_t i = 0; i < qn; i++) q[i] = b0 + i;
    /* extra pairs: (q, q + 7 mod n) */
    int64_t *pc = malloc(sizeof *pc * (qn ? qn : 1));
    float *ps = malloc(sizeof *ps * (qn ? qn : 1));
    for (int64_t i = 0; i < qn; i++) pc[i] = (q[i] * 7 + 3) % n;
    struct knn_pairs extra = {qn, q, pc, ps};
    struct knn_lists res;
    int st = knn_search(&sh, q, qn, k, block, &extra, &res);
    EXPECT_INT(st, ST_OK);

    /* brute-force reference in double precision */
    double *ref = malloc(sizeof(double) * n);
    int bad_pos = 0, bad_score = 0, bad_extra = 0;
    double max_err = 0;
    for (int64_t i = 0; i < qn && st == ST_OK; i++) {
        int64_t qr = q[i];
        const int64_t *got = res.index + i * k;
        const float *gs = res.score + i * k;
        for (int64_t c = 0; c < n; c++) {
            double s = 0;
            for (int j = 0; j < dim; j++) s += (double)x[qr * dim + j] * x[c * dim + j];
            ref[c] = s;
        }
        double e = fabs(ref[pc[i]] - ps[i]);
        if (e > 1e-5) bad_extra++;
        if (!usable[qr]) {
            if (got[0] != -1) bad_pos++;
            continue;
        }
        /* reference top-k by selection: best score, smaller row on ties */
        int64_t want[16];
        for (int j = 0; j < k; j++) {
            int64_t best = -1;
            for (int64_t c = 0; c < n; c++) {
                if (c == qr || !usable[c]) continue;
                int taken = 0;
                for (int m = 0; m < j; m++) taken |= want[m] == c;
                if (taken) continue;
                if (best < 0 || ref[c] > ref[best]) best = c;
            }
            want[j] = best;
        }
        for (int j = 0; j < k; j++) {
            if (got[j] < 0 || got[j] == qr || !usable[got[j]]) { bad_pos++; continue; }
            double err = fabs(ref[got[j]] - gs[j]);
            if (err > max_err) max_err = err;
            if (err > 1e-5) bad_score++;
            /* a different row is acceptable only at a (near-)tie in double */
            if (got[j] != want[j] && fabs(ref[got[j]] - ref[want[j]]) > 1e-6) bad_pos++;
            if (j > 0 && (gs[j] > gs[j - 1] || (gs[j] == gs[j - 1] && got[j] < got[j - 1])))
                bad_pos++;
        }
    }
    EXPECT_INT(bad_pos, 0);
    EXPECT_INT(bad_score, 0);
    EXPECT_INT(bad_extra, 0);
    EXPECT(max_err < 1e-5, "max |score - reference| = %g", max_err);
    /* ties: rows 17, 1000, 2400 are identical; 17's best neighbour is 1000 */
    for (int64_t i = 0; i < qn; i++) {
        if (q[i] == 2400) {
            EXPECT_INT(res.index[i * k + 0], 17);
            EXPECT_INT(res.index[i * k + 1], 1000);
        }
        if (q[i] == 17) EXPECT_INT(res.index[i * k + 0], 1000);
    }

    if (argc > 1 && st == ST_OK) {
        char path[4096];
        snprintf(path, sizeof path, "%s.%d", argv[1], rank);
        FILE *f = fopen(path, "wb");
        EXPECT(f != NULL, "cannot write %s", path);
        if (f) {
            fwrite(res.index, sizeof(int64_t), (size_t)(qn * k), f);
            fwrite(res.score, sizeof(float), (size_t)(qn * k), f);
            fwrite(ps, sizeof(float), (size_t)qn, f);
            fclose(f);
        }
    }
    knn_lists_free(&res);
    free(ref);
    free(x);
    free(usable);
    free(q);
    free(pc);
    free(ps);
    int fails = t_fail_;
    MPI_Allreduce(MPI_IN_PLACE, &fails, 1, MPI_INT, MPI_SUM, dist_comm());
    int code = TEST_END();
    if (fails && !code) code = 1;
    dist_finalize();
    return code;
}
