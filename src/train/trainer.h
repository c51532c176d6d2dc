/* trainer.h - data-parallel training of one head on in-memory features.
 *
 * Every rank holds a contiguous shard of the global training set (features)
 * plus the labels and sample ids of all training rows (small). Per epoch:
 *   1. order = train_permutation(hash(seed, epoch), N_train), same on all ranks;
 *   2. batch b is order[b B, min((b+1) B, N)); rank r takes the slice
 *      dist_shard_range(batch rows, r, size) of it; the rows a rank needs
 *      for the whole epoch are moved to it in one MPI_Alltoallv (all ranks
 *      can compute who needs what, so there is no request round);
 *   3. each step: local gradient SUM (float, sgemm) -> double -> allreduce
 *      (grad_allreduce) -> divide by the global batch rows -> the same
 *      optimiser update on every rank.
 * Dropout depends on (seed, epoch, sample id), so the result does not
 * depend on the rank count beyond float rounding of the local partial sums.
 * After each epoch: validation metrics, early stopping on validation
 * macro-F1 (the best weights are kept and restored at the end), then the
 * checkpoint callback. Everything depends only on (seed, epoch, step), so a
 * run resumed from a checkpoint ends with the same weights as one that was
 * never interrupted.
 */
#ifndef ASSORT_TRAIN_TRAINER_H
#define ASSORT_TRAIN_TRAINER_H

#include <stdint.h>

#include "train/head.h"
#include "train/metrics.h"
#include "train/optim.h"

struct train_opts {
    struct head_shape shape;
    enum optim_kind optimizer;
    double lr, momentum, weight_decay, warmup_epochs;
    int nesterov;
    int epochs;
    int64_t batch;              /* global batch rows over all ranks */
    float label_smoothing;
    int class_balanced;         /* weight class c by N / (C_present n_c) */
    int patience;               /* early stopping epochs; 0 = off */
    uint64_t seed;
    const char *allreduce;      /* grad_allreduce backend, "mpi" */
    int stop_after;             /* > 0: stop with ST_INTERRUPTED after this many epochs in this call */
};

/* The global training set, sharded. */
struct train_set {
    int64_t n_global;           /* training rows over all ranks */
    int64_t first, n_local;     /* this rank's rows [first, first + n_local) */
    const float *x;             /* (n_local, D) features of those rows */
    const int32_t *y_all;       /* (n_global) class of every training row */
    const int64_t *id_all;      /* (n_global) sample id (catalog row) of every training row */
};

/* A rank's part of an evaluation set (validation or test). */
struct eval_set {
    int64_t n_local;
    const float *x;             /* (n_local, D) */
    const int32_t *y;           /* (n_local) */
};

#define CURVE_COLS 4            /* train_loss, train_acc, val_loss, val_acc */

/* Everything a checkpoint holds. */
struct train_state {
    int64_t epochs_done;
    float *params;              /* (P) current weights */
    float *best;                /* (P) weights of the best validation epoch */
    struct optim opt;
    double best_score;          /* validation macro-F1 of best (-1 before any) */
    int64_t best_epoch;         /* 0-based; -1 before any */
    int64_t since_best;
    int stopped_early;
    double *curves;             /* (epochs, CURVE_COLS), NaN where not run */
    double seconds_allreduce, seconds_step, seconds_exchange; /* this call, rank 0 */
};

/* Allocates and initialises a state for opts (weights from head_init with
 * opts->seed, zero optimiser state). Free with train_state_free. */
int train_state_init(struct train_state *st, const struct train_opts *o);
void train_state_free(struct train_state *st);

/* Called after every epoch with the state (all ranks; a writer uses rank 0). */
typedef int (*train_checkpoint_fn)(const struct train_state *st, void *ctx);

/* Trains from st->epochs_done to o->epochs (or until early stopping).
 * val may have n_local 0 on every rank (then no early stopping and the last
 * weights are the result). On return st->params holds the result (the best
 * validation epoch's weights). Returns ST_OK, ST_INTERRUPTED (stop_after),
 * ST_DATA (non-finite loss: message names epoch, step and rank), or
 * ST_USAGE/ST_ERR. Collective. */
int train_run(const struct train_opts *o, const struct train_set *tr, const struct eval_set *val,
              struct train_state *st, train_checkpoint_fn ckpt, void *ckpt_ctx);

/* Logits (n, C) of an eval set, malloc'ed (caller frees). Local. */
int train_logits(const struct head_shape *s, const float *params, const struct eval_set *ev,
                 float **logits);

/* Accumulates an eval set's logits into stats at temperature T and sums
 * the stats over ranks. Collective. */
int train_eval_stats(const float *logits, const struct eval_set *ev, double temperature,
                     struct eval_stats *stats);

/* Fits the temperature minimising the validation NLL over all ranks. Collective. */
int train_fit_temperature(const float *logits, const struct eval_set *ev, int classes, double *t);

#endif
