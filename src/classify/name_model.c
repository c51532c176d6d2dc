/* name_model.c - sparse softmax regression over name TF-IDF (name_model.h). */
#include "classify/name_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/head.h"
#include "util/check.h"

void name_model_logits(const struct name_model *m, const struct name_index *ix, int64_t row,
                       float *logits) {
    const int32_t *t = NULL;
    const float *x = NULL;
    int64_t nt = name_index_vector(ix, row, &t, &x);
    int C = m->classes;
    memcpy(logits, m->b, sizeof(float) * (size_t)C);
    for (int64_t j = 0; j < nt; j++) {
        if (t[j] < 0 || t[j] >= m->terms) continue;
        const float *wr = m->w + (size_t)t[j] * C;
        for (int c = 0; c < C; c++) logits[c] += x[j] * wr[c];
    }
}

int name_model_train(const struct name_index *ix, const int64_t *rows, const int32_t *y,
                     int64_t n, int classes, const struct name_train_opts *o,
                     struct name_model *m) {
    int rc = ST_OK;
    float *gw = NULL, *gb = NULL, *logit = NULL;
    int64_t *perm = NULL;
    memset(m, 0, sizeof *m);
    int C = classes;
    m->terms = name_index_terms(ix);
    m->classes = C;
    size_t wn = (size_t)(m->terms > 0 ? m->terms : 1) * C;
    TRY_ALLOC(m->w = calloc(wn, sizeof(float)));
    TRY_ALLOC(m->b = calloc((size_t)C, sizeof(float)));
    TRY_ALLOC(gw = calloc(wn, sizeof(float)));         /* (T, C) AdaGrad accumulators */
    TRY_ALLOC(gb = calloc((size_t)C, sizeof(float)));
    TRY_ALLOC(logit = malloc(sizeof(float) * (size_t)C));
    TRY_ALLOC(perm = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1)));
    const float eps = 1e-8f, lr = (float)o->lr, l2 = (float)o->l2;
    for (int e = 0; e < o->epochs; e++) {
        train_permutation(train_hash64(o->seed ^ 0x6e616d65ull, (uint64_t)e), n, perm);
        for (int64_t s = 0; s < n; s++) {
            int64_t i = perm[s], row = rows[i];
            if (y[i] < 0 || y[i] >= C) continue;
            name_model_logits(m, ix, row, logit);
            /* p - onehot, in place */
            double mx = -INFINITY, sum = 0;
            for (int c = 0; c < C; c++) mx = logit[c] > mx ? logit[c] : mx;
            for (int c = 0; c < C; c++) sum += exp(logit[c] - mx);
            for (int c = 0; c < C; c++)
                logit[c] = (float)(exp(logit[c] - mx) / sum) - (c == y[i] ? 1.0f : 0.0f);
            const int32_t *t = NULL;
            const float *x = NULL;
            int64_t nt = name_index_vector(ix, row, &t, &x);
            for (int64_t j = 0; j < nt; j++) {
                float *wr = m->w + (size_t)t[j] * C, *gr = gw + (size_t)t[j] * C;
                for (int c = 0; c < C; c++) {
                    float g = x[j] * logit[c] + l2 * wr[c];
                    gr[c] += g * g;
                    wr[c] -= lr * g / sqrtf(gr[c] + eps);
                }
            }
            for (int c = 0; c < C; c++) {
                float g = logit[c];
                gb[c] += g * g;
                m->b[c] -= lr * g / sqrtf(gb[c] + eps);
            }
        }
    }
fail:
    free(gw);
    free(gb);
    free(logit);
    free(perm);
    if (rc != ST_OK) name_model_free(m);
    return rc;
}

void name_model_free(struct name_model *m) {
    free(m->w);
    free(m->b);
    m->w = m->b = NULL;
}
