/* bench_knn.c - exact kNN throughput vs OpenBLAS sgemm alone on the same
 * shapes, in the same run, plus peak memory per rank.
 *   mpirun -n P bench_knn [N=40000] [DIM=1280] [K=20] [BLOCK=2048]
 * Features are random Gaussian rows, L2-normalised (no extracted features
 * are needed). Prints seconds, GFLOP/s and ratio = t_sgemm / t_knn. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "dist/dist.h"
#include "similarity/knn.h"
#include "util/log.h"
#include "util/status.h"

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) return 1;
    int64_t n = argc > 1 ? atoll(argv[1]) : 40000;
    int dim = argc > 2 ? atoi(argv[2]) : 1280, k = argc > 3 ? atoi(argv[3]) : 20;
    int block = argc > 4 ? atoi(argv[4]) : 2048;
    int rank = dist_rank(), size = dist_size();
    int64_t b0, b1;
    knn_shard_range(n, block, rank, size, &b0, &b1);
    int64_t rows = b1 - b0;
    float *x = malloc(sizeof(float) * (rows ? rows : 1) * dim);
    uint8_t *usable = malloc(n);
    int64_t *q = malloc(sizeof *q * (rows ? rows : 1));
    if (!x || !usable || !q) return 1;
    memset(usable, 1, n);
    uint64_t s = 0x1234567ull + (uint64_t)b0;
    for (int64_t i = 0; i < rows * dim; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    knn_normalize_rows(x, rows, dim, NULL, NULL);
    for (int64_t i = 0; i < rows; i++) q[i] = b0 + i;
    struct knn_shard sh = {x, b0, rows, dim, n, usable};
    struct knn_lists res;
    dist_barrier();
    double t0 = time_now();
    if (knn_search(&sh, q, rows, k, block, NULL, &res) != ST_OK) {
        fprintf(stderr, "bench_knn: %s\n", err_msg());
        return 1;
    }
    dist_barrier();
    double t_knn = time_now() - t0;
    knn_lists_free(&res);

    /* sgemm alone: the same (query block x candidate block) products on the
     * local rows, repeated `size` times to cover the same N x N/P work */
    float *tile = malloc(sizeof(float) * (size_t)block * block);
    dist_barrier();
    t0 = time_now();
    for (int rep = 0; rep < size; rep++)
        for (int64_t qb = 0; qb < rows; qb += block)
            for (int64_t cb = 0; cb < rows; cb += block) {
                int qn = (int)(qb + block < rows ? block : rows - qb);
                int cn = (int)(cb + block < rows ? block : rows - cb);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qn, cn, dim, 1.0f,
                            x + qb * dim, dim, x + cb * dim, dim, 0.0f, tile, cn);
            }
    dist_barrier();
    double t_gemm = time_now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t rss = ru.ru_maxrss, max_rss = rss; /* KiB */
    dist_allreduce_max_i64(&max_rss, 1);
    double flop = 2.0 * (double)n * (double)n * dim;
    int64_t max_rows = (n / block / size + 1) * block;
    double bound_mib = (2.0 * max_rows * dim * 4 + (double)block * block * 4 +
                        (double)block * dim * 4 + (double)max_rows * k * 12 + n) / 1048576.0;
    if (rank == 0) {
        printf("bench_knn: N=%lld dim=%d k=%d block=%d ranks=%d\n", (long long)n, dim, k, block, size);
        printf("knn   : %.2f s  %.1f GFLOP/s  %.0f queries/s\n", t_knn, flop / t_knn / 1e9, n / t_knn);
        printf("sgemm : %.2f s  %.1f GFLOP/s (same shapes, no selection/communication)\n", t_gemm,
               flop / t_gemm / 1e9);
        printf("ratio knn/sgemm throughput = %.3f (goal >= 0.8)\n", t_gemm / t_knn);
        printf("peak RSS per rank (max over ranks) = %.1f MiB; kNN working-set bound = %.1f MiB "
               "(2 shards + tile + query block + heaps)\n", max_rss / 1024.0, bound_mib);
    }
    free(tile);
    free(x);
    free(usable);
    free(q);
    dist_finalize();
    return 0;
}
