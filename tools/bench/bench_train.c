/* bench_train.c - seconds per epoch of data-parallel head training and the
 * share of step time spent in the gradient allreduce.
 *
 *   mpirun -n R build/tools/bench_train [N [EPOCHS [HEAD]]]
 * Synthetic, learnable features: N x 1280 (default 40000) Gaussian class
 * clusters, 141 classes (the fashion catalog's article types), global batch
 * 256, SGD Nesterov. Prints one "RESULT" line on rank 0; bench_train.sh runs
 * 1 and 2 ranks and prints the ratios.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "train/trainer.h"
#include "util/log.h"
#include "util/status.h"

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) return 1;
    log_init(dist_rank(), dist_size(), 0);
    int64_t n = argc > 1 ? atoll(argv[1]) : 40000;
    int epochs = argc > 2 ? atoi(argv[2]) : 2;
    const char *head = argc > 3 ? argv[3] : "linear";
    enum { D = 1280, C = 141 };
    int64_t b, e;
    dist_shard_range(n, dist_rank(), dist_size(), &b, &e);
    float *x = malloc((size_t)(e - b) * D * sizeof(float));
    int32_t *y = malloc((size_t)n * sizeof(int32_t));
    int64_t *id = malloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(train_hash64(5, i) % C), id[i] = i;
    for (int64_t i = b; i < e; i++)
        for (int j = 0; j < D; j++)
            x[(size_t)(i - b) * D + j] = (float)((j % C == y[i] ? 1.0 : 0.0) +
                                                 train_uniform(train_hash64(i, j)) - 0.5);
    struct train_opts o = {0};
    o.shape = (struct head_shape){head_kind_parse(head) == HEAD_MLP ? HEAD_MLP : HEAD_LINEAR, D,
                                  512, C, 0.2f};
    o.optimizer = OPTIM_SGD;
    o.lr = 0.05, o.momentum = 0.9, o.nesterov = 1, o.weight_decay = 1e-4;
    o.epochs = epochs, o.batch = 256, o.seed = 1, o.allreduce = "mpi";
    struct train_set tr = {n, b, e - b, x, y, id};
    struct train_state st;
    int rc = train_state_init(&st, &o);
    double t0 = time_now();
    if (rc == ST_OK) rc = train_run(&o, &tr, NULL, &st, NULL, NULL);
    double wall = time_now() - t0;
    if (rc != ST_OK) fprintf(stderr, "bench_train: %s\n", err_msg());
    if (rc == ST_OK && dist_rank() == 0)
        printf("RESULT ranks=%d head=%s rows=%lld epochs=%d sec_per_epoch=%.3f "
               "allreduce_share=%.4f exchange_share=%.4f\n",
               dist_size(), head, (long long)n, epochs, wall / epochs,
               st.seconds_allreduce / st.seconds_step, st.seconds_exchange / wall);
    train_state_free(&st);
    free(x), free(y), free(id);
    dist_finalize();
    return rc;
}
