#include "head.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

int head_kind_parse(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "linear")) return HEAD_LINEAR;
    if (!strcmp(name, "mlp")) return HEAD_MLP;
    return -1;
}

const char *head_kind_name(enum head_kind kind) { return kind == HEAD_MLP ? "mlp" : "linear"; }

void head_layout_of(const struct head_shape *s, struct head_layout *lay) {
    size_t d = (size_t)s->in_dim, c = (size_t)s->classes;
    if (s->kind == HEAD_MLP) {
        size_t h = (size_t)s->hidden;
        lay->w1 = 0;
        lay->b1 = d * h;
        lay->w2 = lay->b1 + h;
        lay->b2 = lay->w2 + h * c;
        lay->count = lay->b2 + c;
    } else {
        lay->w1 = 0;
        lay->b1 = d * c;
        lay->count = lay->b1 + c;
        lay->w2 = lay->b2 = lay->count;
    }
}

int head_is_weight(const struct head_layout *lay, size_t i) {
    if (i < lay->b1) return 1;
    return i >= lay->w2 && i < lay->b2;
}

uint64_t train_hash64(uint64_t a, uint64_t b) {
    uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    /* a second round so that nearby (a, b) pairs decorrelate */
    z += b * 0xD6E8FEB86659FD93ull;
    z = (z ^ (z >> 32)) * 0xD6E8FEB86659FD93ull;
    return z ^ (z >> 32);
}

double train_uniform(uint64_t h) { return (double)(h >> 11) * (1.0 / 9007199254740992.0); }

void train_permutation(uint64_t seed, int64_t n, int64_t *perm) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(train_hash64(seed, (uint64_t)i) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static double gauss(uint64_t seed, uint64_t i) {
    double u1 = train_uniform(train_hash64(seed, 2 * i));
    double u2 = train_uniform(train_hash64(seed, 2 * i + 1));
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void head_init(const struct head_shape *s, float *params, uint64_t seed) {
    struct head_layout lay;
    head_layout_of(s, &lay);
    memset(params, 0, lay.count * sizeof *params);
    if (s->kind == HEAD_MLP) {
        double sd1 = sqrt(2.0 / s->in_dim), sd2 = sqrt(1.0 / s->hidden);
        for (size_t i = lay.w1; i < lay.b1; i++) params[i] = (float)(sd1 * gauss(seed, i));
        for (size_t i = lay.w2; i < lay.b2; i++) params[i] = (float)(sd2 * gauss(seed, i));
    } else {
        double sd = sqrt(1.0 / s->in_dim);
        for (size_t i = lay.w1; i < lay.b1; i++) params[i] = (float)(sd * gauss(seed, i));
    }
}

int head_work_alloc(const struct head_shape *s, int64_t max_rows, struct head_work *w) {
    memset(w, 0, sizeof *w);
    if (max_rows < 1) max_rows = 1;
    w->max_rows = max_rows;
    size_t rc_n = (size_t)max_rows * (size_t)s->classes;
    w->logits = malloc(rc_n * sizeof(float));
    w->dlogits = malloc(rc_n * sizeof(float));
    int ok = w->logits && w->dlogits;
    if (s->kind == HEAD_MLP) {
        size_t rh = (size_t)max_rows * (size_t)s->hidden;
        w->hidden = malloc(rh * sizeof(float));
        w->act = malloc(rh * sizeof(float));
        w->scale = malloc(rh * sizeof(float));
        w->dact = malloc(rh * sizeof(float));
        ok = ok && w->hidden && w->act && w->scale && w->dact;
    }
    if (!ok) {
        head_work_free(w);
        return err_set(ST_ERR, "out of memory for a batch of %lld rows", (long long)max_rows);
    }
    return ST_OK;
}

void head_work_free(struct head_work *w) {
    free(w->hidden);
    free(w->act);
    free(w->scale);
    free(w->logits);
    free(w->dlogits);
    free(w->dact);
    memset(w, 0, sizeof *w);
}

int head_dropout_keep(const struct dropout_key *key, int64_t sample, int unit, float p) {
    if (p <= 0.0f) return 1;
    uint64_t h = train_hash64(train_hash64(key->seed ^ 0xD20F0D20F0ull, (uint64_t)key->epoch),
                              train_hash64((uint64_t)sample, (uint64_t)unit));
    return train_uniform(h) >= (double)p;
}

/* out (n, cols) = bias broadcast; then out += a (n, k) b (k, cols). */
static void affine(const float *a, const float *b, const float *bias, int64_t n, int k, int cols,
                   float *out) {
    for (int64_t i = 0; i < n; i++) memcpy(out + i * cols, bias, (size_t)cols * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, cols, k, 1.0f, a, k, b, cols,
                1.0f, out, cols);
}

void head_forward(const struct head_shape *s, const float *params, const float *x, int64_t n,
                  int train, const struct dropout_key *key, const int64_t *sample_ids,
                  struct head_work *w) {
    struct head_layout lay;
    head_layout_of(s, &lay);
    int d = s->in_dim, c = s->classes;
    if (n <= 0) return;
    if (s->kind == HEAD_LINEAR) {
        affine(x, params + lay.w1, params + lay.b1, n, d, c, w->logits);
        return;
    }
    int h = s->hidden;
    float p = train ? s->dropout : 0.0f;
    float keep_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
    affine(x, params + lay.w1, params + lay.b1, n, d, h, w->hidden);
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < h; j++) {
            size_t k = (size_t)i * h + j;
            float sc = 1.0f;
            if (p > 0.0f) sc = head_dropout_keep(key, sample_ids[i], j, p) ? keep_scale : 0.0f;
            w->scale[k] = sc;
            float v = w->hidden[k];
            w->act[k] = v > 0.0f ? v * sc : 0.0f;
        }
    }
    affine(w->act, params + lay.w2, params + lay.b2, n, h, c, w->logits);
}

/* grad (rows, cols) of a weight = a^T (n, rows)^T  d (n, cols); bias = column sums. */
static void weight_grad(const float *a, const float *d, int64_t n, int rows, int cols,
                        float *gw, float *gb) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols, (int)n, 1.0f, a, rows, d,
                cols, 0.0f, gw, cols);
    for (int j = 0; j < cols; j++) gb[j] = 0.0f;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < cols; j++) gb[j] += d[i * cols + j];
}

void head_loss_grad(const struct head_shape *s, const float *params, const float *x,
                    const int32_t *y, int64_t n, const struct dropout_key *key,
                    const int64_t *sample_ids, const struct loss_opts *lo,
                    struct head_work *w, float *grad, double *loss_sum, double *correct) {
    struct head_layout lay;
    head_layout_of(s, &lay);
    int d = s->in_dim, c = s->classes;
    if (n <= 0) {
        memset(grad, 0, lay.count * sizeof *grad);
        return;
    }
    head_forward(s, params, x, n, 1, key, sample_ids, w);
    double eps = lo ? lo->label_smoothing : 0.0;
    double loss = 0.0, hits = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = w->logits + i * c;
        float *dz = w->dlogits + i * c;
        int yi = y[i], arg = 0;
        float zmax = z[0];
        for (int k = 1; k < c; k++)
            if (z[k] > zmax) zmax = z[k], arg = k;
        double sum = 0.0;
        for (int k = 0; k < c; k++) sum += exp((double)z[k] - zmax);
        double lse = zmax + log(sum);
        double wy = lo && lo->class_weight ? lo->class_weight[yi] : 1.0;
        double li = 0.0;
        for (int k = 0; k < c; k++) {
            double q = (k == yi ? 1.0 - eps : 0.0) + eps / c;
            double logp = (double)z[k] - lse;
            if (q > 0.0) li -= q * logp;
            dz[k] = (float)(wy * (exp(logp) - q));
        }
        loss += wy * li;
        hits += arg == yi;
    }
    *loss_sum += loss;
    *correct += hits;
    if (s->kind == HEAD_LINEAR) {
        weight_grad(x, w->dlogits, n, d, c, grad + lay.w1, grad + lay.b1);
        return;
    }
    int h = s->hidden;
    weight_grad(w->act, w->dlogits, n, h, c, grad + lay.w2, grad + lay.b2);
    /* dact (n, H) = dlogits (n, C) W2^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, h, c, 1.0f, w->dlogits, c,
                params + lay.w2, c, 0.0f, w->dact, h);
    for (size_t k = 0; k < (size_t)n * h; k++)
        w->dact[k] = w->hidden[k] > 0.0f ? w->dact[k] * w->scale[k] : 0.0f;
    weight_grad(x, w->dact, n, d, h, grad + lay.w1, grad + lay.b1);
}
