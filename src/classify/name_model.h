/* name_model.h - the name-based classifier of `assort classify`: softmax
 * regression over a product name's character n-gram TF-IDF vector (the
 * vectors of similarity/names.h, L2-normalised, sparse).
 *
 *   logits = b + sum over the name's terms t of x_t W[t, :]     W (T, C), b (C)
 *
 * Trained by per-sample AdaGrad (per-weight step lr / sqrt(sum of squared
 * gradients)) on cross-entropy with L2 penalty l2 on the touched rows of W,
 * for `epochs` passes over the rows in an order seeded by (seed, epoch). The
 * model is small (T x C floats) and the data are names only, so every rank
 * trains the same model on all training rows: the result is bit-identical
 * for any rank count and needs no communication.
 */
#ifndef ASSORT_CLASSIFY_NAME_MODEL_H
#define ASSORT_CLASSIFY_NAME_MODEL_H

#include <stdint.h>

#include "similarity/names.h"

struct name_model {
    int64_t terms;   /* T: terms of the index it was trained on */
    int classes;     /* C */
    float *w;        /* (T, C) */
    float *b;        /* (C) */
};

struct name_train_opts {
    int epochs;      /* passes over the training rows */
    double lr;       /* AdaGrad step */
    double l2;       /* L2 penalty on W (per touched row and step) */
    uint64_t seed;
};

/* Trains on n rows `rows` (index rows) with classes y (n) in [0, classes).
 * Rows whose name is empty contribute only to b. On success m owns its
 * arrays (name_model_free). Local. ST_ERR when out of memory. */
int name_model_train(const struct name_index *ix, const int64_t *rows, const int32_t *y,
                     int64_t n, int classes, const struct name_train_opts *o,
                     struct name_model *m);

/* Logits (C) of index row `row`. The model must have been trained on an
 * index with the same terms (m->terms == name_index_terms(ix)). Local. */
void name_model_logits(const struct name_model *m, const struct name_index *ix, int64_t row,
                       float *logits);

void name_model_free(struct name_model *m);

#endif
