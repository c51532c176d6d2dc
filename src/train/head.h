/* head.h - classification heads over a flat parameter buffer.
 *
 * Two heads sit on top of the pretrained features:
 *   linear: logits = x W + b                      W (D, C), b (C)
 *   mlp:    a = dropout(relu(x W1 + b1))          W1 (D, H), b1 (H)
 *           logits = a W2 + b2                    W2 (H, C), b2 (C)
 * All parameters live in one float buffer (layout below) so that one
 * allreduce moves every gradient. Matmuls go through OpenBLAS sgemm.
 *
 * Dropout is inverted dropout (kept units scaled by 1/(1-p)); whether unit j
 * of sample s is dropped depends only on (seed, epoch, s, j) through a
 * counter hash (head_dropout_keep), never on the rank or batch split, which
 * is what makes training independent of the number of ranks.
 *
 * Loss: cross-entropy with label smoothing eps (target (1-eps) one-hot +
 * eps/C) and an optional per-class weight w[y]: loss_i = w[y_i] * sum_c
 * -q_c log p_c. The gradient returned is the SUM over the given rows (the
 * caller divides by the global batch size).
 */
#ifndef ASSORT_TRAIN_HEAD_H
#define ASSORT_TRAIN_HEAD_H

#include <stddef.h>
#include <stdint.h>

enum head_kind { HEAD_LINEAR = 0, HEAD_MLP = 1 };

struct head_shape {
    enum head_kind kind;
    int in_dim;      /* D: feature width (1280 for EfficientNet-Lite) */
    int hidden;      /* H: mlp hidden units (ignored for linear) */
    int classes;     /* C */
    float dropout;   /* mlp: probability a hidden unit is dropped in training */
};

/* Offsets (in floats) of each tensor in the flat buffer. For linear, w1/b1
 * are W/b and w2 = b2 = count (absent). */
struct head_layout {
    size_t w1, b1, w2, b2;
    size_t count;    /* total floats */
};

/* Scratch for one batch of up to max_rows rows. */
struct head_work {
    int64_t max_rows;
    float *hidden;   /* (max_rows, H) pre-activation, mlp */
    float *act;      /* (max_rows, H) post relu+dropout, mlp */
    float *scale;    /* (max_rows, H) dropout scale 0 or 1/(1-p), mlp */
    float *logits;   /* (max_rows, C) */
    float *dlogits;  /* (max_rows, C) */
    float *dact;     /* (max_rows, H) mlp */
};

/* Dropout randomness: which epoch of which run. */
struct dropout_key {
    uint64_t seed;
    int64_t epoch;
};

struct loss_opts {
    float label_smoothing;        /* 0 = plain cross-entropy */
    const float *class_weight;    /* (C) or NULL for all 1 */
};

/* Parses "linear" / "mlp". Returns -1 for anything else. */
int head_kind_parse(const char *name);
const char *head_kind_name(enum head_kind kind);

/* Fills the layout of a shape. Local, pure. */
void head_layout_of(const struct head_shape *s, struct head_layout *lay);

/* Initialises params (layout count floats) deterministically from seed:
 * weights ~ N(0, 2/fan_in) for the mlp's first layer, N(0, 1/fan_in)
 * otherwise; biases 0. */
void head_init(const struct head_shape *s, float *params, uint64_t seed);

/* 1 when float index i of the buffer is a weight (decayed), 0 for a bias. */
int head_is_weight(const struct head_layout *lay, size_t i);

/* Allocates scratch for batches of up to max_rows rows. Returns ST_OK or
 * ST_ERR (out of memory). Free with head_work_free (NULL-safe members). */
int head_work_alloc(const struct head_shape *s, int64_t max_rows, struct head_work *w);
void head_work_free(struct head_work *w);

/* 1 when dropout keeps unit `unit` of sample `sample` in this epoch.
 * Pure function of (key, sample, unit, p). */
int head_dropout_keep(const struct dropout_key *key, int64_t sample, int unit, float p);

/* Forward pass on n <= w->max_rows rows x (n, D). train != 0 applies
 * dropout with key and the global sample ids (n) (may be NULL when
 * train == 0). Leaves logits in w->logits (n, C). */
void head_forward(const struct head_shape *s, const float *params, const float *x, int64_t n,
                  int train, const struct dropout_key *key, const int64_t *sample_ids,
                  struct head_work *w);

/* Training step on n rows: forward (with dropout), loss and backward.
 * y (n) are class indices in [0, C). Writes the gradient SUM over the rows
 * into grad (layout count floats, overwritten; all zero when n == 0), adds
 * the summed loss to *loss_sum and the count of top-1 hits to *correct.
 * Needs n <= w->max_rows. */
void head_loss_grad(const struct head_shape *s, const float *params, const float *x,
                    const int32_t *y, int64_t n, const struct dropout_key *key,
                    const int64_t *sample_ids, const struct loss_opts *lo,
                    struct head_work *w, float *grad, double *loss_sum, double *correct);

/* Counter-based random numbers (splitmix64 finaliser) used everywhere in
 * training so that results depend on (seed, counters) only. */
uint64_t train_hash64(uint64_t a, uint64_t b);
/* Uniform in [0, 1) from a hash. */
double train_uniform(uint64_t h);
/* Seeded permutation of 0..n-1 (Fisher-Yates on train_hash64(seed, i)). */
void train_permutation(uint64_t seed, int64_t n, int64_t *perm);

#endif
