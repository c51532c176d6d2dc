/* bench_backbone.c - images/s of the CPU backbone (features, no logits).
 *
 *   bench_backbone [--weights W.h5] [--batch 32] [--iters 5] [--threads T]
 *                  [--sub-batch S] [--blas] [--fuse-side N]
 *   mpirun -n 2 bench_backbone --threads 1 ...
 *
 * Every rank runs `iters` timed batches (after one warm-up batch) of
 * synthetic pixels; the figure is the sum over ranks of images / wall time
 * of the slowest rank. Prints one line with peak RSS per rank (ru_maxrss). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "dist/dist.h"
#include "nn/backbone.h"
#include "nn/effnet.h"
#include "util/log.h"
#include "util/status.h"

int main(int argc, char **argv) {
    const char *weights = "weights/efficientnet_lite0.h5";
    int batch = 32, iters = 5, threads = 0, sub = 0, blas = 0, fuse = 0;
    if (dist_init(&argc, &argv) != ST_OK) return fprintf(stderr, "%s\n", err_msg()), 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sub-batch") && i + 1 < argc) sub = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--blas")) blas = 1; /* OpenBLAS for every 1x1 conv (A/B) */
        else if (!strcmp(argv[i], "--fuse-side") && i + 1 < argc) /* -1: never fuse (A/B) */
            fuse = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_backbone [--weights W] [--batch N] [--iters N] "
                            "[--threads T] [--sub-batch S] [--blas] [--fuse-side N]\n");
            dist_finalize();
            return 2;
        }
    }
    int rank = dist_rank(), size = dist_size();
    struct effnet *net = NULL;
    struct backbone *bb = NULL;
    int rc = effnet_load(weights, &net);
    struct backbone_opts opts = {.threads = threads, .max_batch = batch, .sub_batch = sub,
                                 .cpu_blas_only = blas, .cpu_fuse_side = fuse};
    if (rc == ST_OK) rc = backbone_create("cpu", net, &opts, &bb);
    rc = dist_agree(rc);
    if (rc != ST_OK) {
        if (err_msg()[0]) fprintf(stderr, "bench_backbone: %s\n", err_msg());
        effnet_free(net);
        dist_finalize();
        return rc;
    }
    size_t img = (size_t)net->image_size * net->image_size * 3;
    uint8_t *px = malloc(img * batch);
    float *feats = malloc((size_t)batch * net->num_features * sizeof(float));
    uint64_t x = 88172645463325252ull + (uint64_t)rank;
    for (size_t i = 0; i < img * batch; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        px[i] = (uint8_t)(x >> 56);
    }
    backbone_forward(bb, px, batch, feats, NULL); /* warm-up: page faults, BLAS buffers */
    dist_barrier();
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = time_now();
    for (int it = 0; it < iters; it++) backbone_forward(bb, px, batch, feats, NULL);
    double dt = time_now() - t0;
    int64_t us = (int64_t)(dt * 1e6), imgs = (int64_t)iters * batch;
    dist_allreduce_max_i64(&us, 1);
    dist_allreduce_sum_i64(&imgs, 1);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* CPU seconds of this rank's timed loop: less sensitive than wall time
     * to other jobs on a shared machine (spinning threads count, though). */
    double cpu = (ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 1e-6 * ((ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec) + (ru.ru_stime.tv_usec - ru0.ru_stime.tv_usec));
    int64_t cpu_us = (int64_t)(cpu * 1e6);
    dist_allreduce_sum_i64(&cpu_us, 1);
    int64_t rss = ru.ru_maxrss;
    dist_allreduce_max_i64(&rss, 1);
    int t = threads ? threads : backbone_default_threads();
    if (rank == 0)
        printf("bench_backbone: %s %dx%d batch %d, %d rank(s) x %d thread(s): %.1f images/s "
               "(%.1f GMAC/s; %lld images in %.2f s), CPU %.1f ms/image, peak RSS per rank %.0f MiB\n",
               net->model, net->image_size, net->image_size, batch, size, t,
               (double)imgs / (us * 1e-6), effnet_macs(net) * imgs / (us * 1e-6) * 1e-9,
               (long long)imgs, us * 1e-6, cpu_us * 1e-3 / imgs, rss / 1024.0);
    free(px);
    free(feats);
    backbone_free(bb);
    effnet_free(net);
    dist_finalize();
    return 0;
}
