/* test_train_math.c - the trainer's math against independent references:
 * finite-difference gradients of a double-precision re-implementation of the
 * loss (both heads, dropout, label smoothing, class weights), optimiser
 * steps and the LR schedule by hand, the split and rare-class rules,
 * metrics, ECE and the temperature fit on hand-worked examples. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "train/head.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/split.h"

/* Reference loss in double: independent loops, no BLAS. */
static double ref_loss(const struct head_shape *s, const double *p, const float *x,
                       const int32_t *y, int n, const struct dropout_key *key,
                       const int64_t *ids, double eps, const float *cw) {
    struct head_layout lay;
    head_layout_of(s, &lay);
    int d = s->in_dim, c = s->classes, h = s->hidden;
    double total = 0, z[64], a[64];
    for (int i = 0; i < n; i++) {
        if (s->kind == HEAD_LINEAR) {
            for (int k = 0; k < c; k++) {
                z[k] = p[lay.b1 + k];
                for (int j = 0; j < d; j++) z[k] += x[i * d + j] * p[lay.w1 + (size_t)j * c + k];
            }
        } else {
            for (int u = 0; u < h; u++) {
                double v = p[lay.b1 + u];
                for (int j = 0; j < d; j++) v += x[i * d + j] * p[lay.w1 + (size_t)j * h + u];
                double keep = head_dropout_keep(key, ids[i], u, s->dropout) ? 1.0 / (1.0 - s->dropout) : 0.0;
                a[u] = v > 0 ? v * keep : 0;
            }
            for (int k = 0; k < c; k++) {
                z[k] = p[lay.b2 + k];
                for (int u = 0; u < h; u++) z[k] += a[u] * p[lay.w2 + (size_t)u * c + k];
            }
        }
        double mx = z[0], sum = 0;
        for (int k = 1; k < c; k++) mx = z[k] > mx ? z[k] : mx;
        for (int k = 0; k < c; k++) sum += exp(z[k] - mx);
        double l = 0;
        for (int k = 0; k < c; k++) {
            double q = (k == y[i] ? 1 - eps : 0) + eps / c;
            l -= q * (z[k] - mx - log(sum));
        }
        total += (cw ? cw[y[i]] : 1.0) * l;
    }
    return total;
}

static void grad_check(enum head_kind kind, float dropout, double eps, int weighted) {
    struct head_shape s = {kind, 5, 6, 4, dropout};
    struct head_layout lay;
    head_layout_of(&s, &lay);
    int n = 7;
    float x[35];
    int32_t y[7];
    int64_t ids[7];
    float cw[4] = {0.5f, 2.0f, 1.0f, 1.5f};
    for (int i = 0; i < 35; i++) x[i] = (float)(train_uniform(train_hash64(7, i)) * 2 - 1);
    for (int i = 0; i < n; i++) y[i] = i % 4, ids[i] = 100 + 3 * i;
    float *pf = malloc(lay.count * sizeof(float)), *g = malloc(lay.count * sizeof(float));
    double *pd = malloc(lay.count * sizeof(double));
    head_init(&s, pf, 11);
    for (size_t i = 0; i < lay.count; i++) {
        if (!head_is_weight(&lay, i)) pf[i] = (float)(0.1 * (train_uniform(train_hash64(3, i)) - 0.5));
        pd[i] = pf[i];
    }
    struct dropout_key key = {42, 3};
    struct loss_opts lo = {(float)eps, weighted ? cw : NULL};
    struct head_work w;
    EXPECT(head_work_alloc(&s, n, &w) == 0, "alloc");
    double loss = 0, hits = 0;
    head_loss_grad(&s, pf, x, y, n, &key, ids, &lo, &w, g, &loss, &hits);
    double lref = ref_loss(&s, pd, x, y, n, &key, ids, eps, lo.class_weight);
    EXPECT(fabs(loss - lref) <= 1e-5 * fabs(lref), "%s loss %.9g vs reference %.9g",
           head_kind_name(kind), loss, lref);
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < lay.count; i++) {
        double h = 1e-6, keep = pd[i];
        pd[i] = keep + h;
        double lp = ref_loss(&s, pd, x, y, n, &key, ids, eps, lo.class_weight);
        pd[i] = keep - h;
        double lm = ref_loss(&s, pd, x, y, n, &key, ids, eps, lo.class_weight);
        pd[i] = keep;
        double num = (lp - lm) / (2 * h), err = fabs(num - g[i]);
        if (err > 2e-5 + 1e-3 * fabs(num)) bad++;
        if (err > worst) worst = err;
    }
    EXPECT(bad == 0, "%s (dropout %.2f, eps %.2f, weighted %d): %d of %zu gradients differ from "
           "finite differences (worst abs err %.3g)", head_kind_name(kind), dropout, eps,
           weighted, bad, lay.count, worst);
    /* n == 0 gives an all-zero gradient */
    head_loss_grad(&s, pf, x, y, 0, &key, ids, &lo, &w, g, &loss, &hits);
    int nz = 0;
    for (size_t i = 0; i < lay.count; i++) nz += g[i] != 0;
    EXPECT_INT(nz, 0);
    head_work_free(&w);
    free(pf), free(g), free(pd);
}

static void test_dropout(void) {
    struct dropout_key k = {5, 2}, k2 = {5, 3};
    int kept = 0, same = 0, impure = 0, total = 20000;
    for (int i = 0; i < total; i++) {
        int a = head_dropout_keep(&k, i / 100, i % 100, 0.3f);
        kept += a;
        same += a == head_dropout_keep(&k2, i / 100, i % 100, 0.3f);
        same += 0 * (a != head_dropout_keep(&k, i / 100, i % 100, 0.3f) ? (impure++, 1) : 0);
    }
    EXPECT_INT(impure, 0);
    EXPECT(fabs(kept / (double)total - 0.7) < 0.02, "keep rate %.3f, expected 0.7", kept / (double)total);
    EXPECT(same < total * 0.65, "epoch does not change the mask (%d same of %d)", same, total);
}

static void test_optim(void) {
    struct head_shape s = {HEAD_LINEAR, 1, 0, 1, 0};
    struct head_layout lay;
    head_layout_of(&s, &lay); /* params: w (1), b (1) */
    struct optim o;
    float p[2] = {1.0f, 1.0f}, g[2] = {0.5f, 0.5f};
    EXPECT(optim_init(&o, OPTIM_SGD, 2, 0.9, 1, 0.1) == 0, "init");
    /* step 1: weight g = .5 + .1*1 = .6, v = .6, d = .6 + .9*.6 = 1.14, p = 1 - .1*1.14 */
    optim_step(&o, &lay, p, g, 0.1);
    EXPECT_NEAR(p[0], 1 - 0.114, 1e-6);
    EXPECT_NEAR(p[1], 1 - 0.1 * (0.5 + 0.9 * 0.5), 1e-6); /* bias: no decay */
    /* step 2: weight g = .5 + .1*.886 = .5886, v = .9*.6 + .5886, d = g + .9 v */
    double g2 = 0.5 + 0.1 * 0.886, v2 = 0.54 + g2;
    optim_step(&o, &lay, p, g, 0.1);
    EXPECT_NEAR(p[0], 0.886 - 0.1 * (g2 + 0.9 * v2), 1e-6);
    optim_free(&o);
    float q[2] = {1.0f, 1.0f}, h[2] = {0.3f, -2.0f};
    EXPECT(optim_init(&o, OPTIM_ADAMW, 2, 0, 0, 0.01) == 0, "init");
    optim_step(&o, &lay, q, h, 0.1); /* first step: m/c1 = g, sqrt(v/c2) = |g| */
    EXPECT_NEAR(q[0], 1 - 0.1 * 0.01 - 0.1 * 0.3 / (0.3 + 1e-8), 1e-6);
    EXPECT_NEAR(q[1], 1 + 0.1 * 2 / (2 + 1e-8), 1e-6);
    optim_free(&o);
    EXPECT_NEAR(lr_at(1, 0, 10, 110), 0.1, 1e-12);
    EXPECT_NEAR(lr_at(1, 9, 10, 110), 1.0, 1e-12);
    EXPECT_NEAR(lr_at(1, 10, 10, 110), 1.0, 1e-12);
    EXPECT_NEAR(lr_at(1, 60, 10, 110), 0.5, 1e-12);
    EXPECT_NEAR(lr_at(1, 110, 10, 110), 0.0, 1e-12);
}

static void test_split(void) {
    enum { N = 140 };
    int32_t label[N];
    uint8_t elig[N];
    int8_t a[N], b[N], c[N];
    for (int i = 0; i < N; i++) {
        label[i] = i < 100 ? 0 : i < 110 ? 1 : i < 111 ? 2 : -1;
        elig[i] = !(i % 50 == 7); /* rows 7, 57 (class 0) and 107 (class 1) not eligible */
    }
    EXPECT(split_stratified(label, elig, N, 3, 0.8, 0.1, 0.1, 9, a) == 0, "split");
    EXPECT(split_stratified(label, elig, N, 3, 0.8, 0.1, 0.1, 9, b) == 0, "split");
    EXPECT(split_stratified(label, elig, N, 3, 0.8, 0.1, 0.1, 10, c) == 0, "split");
    int cnt[3][3] = {{0}}, unused_labelled = 0;
    for (int i = 0; i < N; i++) {
        if (a[i] >= 0) cnt[label[i]][a[i]]++;
        else if (label[i] >= 0 && elig[i]) unused_labelled++;
        if (label[i] < 0 || !elig[i]) EXPECT(a[i] == SPLIT_UNUSED, "row %d should be unused", i);
    }
    EXPECT_INT(unused_labelled, 0);
    /* class 0: 98 eligible -> val round(9.8)=10, test 10, train 78 */
    EXPECT_INT(cnt[0][0], 78);
    EXPECT_INT(cnt[0][1], 10);
    EXPECT_INT(cnt[0][2], 10);
    /* class 1: 9 eligible -> 1, 1, 7 */
    EXPECT_INT(cnt[1][0], 7);
    EXPECT_INT(cnt[1][1], 1);
    EXPECT_INT(cnt[1][2], 1);
    /* class 2: one row -> train */
    EXPECT_INT(cnt[2][0], 1);
    EXPECT(memcmp(a, b, N) == 0, "same seed gives a different split");
    EXPECT(memcmp(a, c, N) != 0, "another seed gives the same split");
    int64_t counts[5] = {50, 3, 0, 40, 2};
    int32_t map[5];
    int nc, rare;
    split_rare_map(counts, 5, 30, 1, map, &nc, &rare);
    EXPECT(map[0] == 0 && map[1] == 2 && map[2] == -1 && map[3] == 1 && map[4] == 2,
           "other map %d %d %d %d %d", map[0], map[1], map[2], map[3], map[4]);
    EXPECT_INT(nc, 3);
    EXPECT_INT(rare, 2);
    split_rare_map(counts, 5, 30, 0, map, &nc, &rare);
    EXPECT(map[0] == 0 && map[1] == -1 && map[2] == -1 && map[3] == 1 && map[4] == -1, "drop map");
    EXPECT_INT(nc, 2);
}

static double nll_ctx_f(double t, void *ctx) {
    const float *z = ctx;
    int32_t y[4] = {0, 1, 2, 0};
    return eval_nll_sum(z, y, 4, 3, t);
}

static void test_metrics(void) {
    /* 4 samples, 3 classes. Predictions: 0, 1, 1, 2; truth 0, 1, 2, 0. */
    float z[12] = {2, 0, 0, /**/ 0, 3, 0, /**/ 0, 1, 0.5f, /**/ 0, 0, 1};
    int32_t y[4] = {0, 1, 2, 0};
    struct eval_stats st;
    struct eval_metrics m;
    EXPECT(eval_stats_init(&st, 3) == 0, "init");
    eval_accumulate(&st, z, y, 4, 1.0);
    EXPECT(eval_finish(&st, &m) == 0, "finish");
    EXPECT_NEAR(m.top1, 0.5, 1e-12);
    EXPECT_NEAR(m.top5, 1.0, 1e-12);
    /* class 0: TP1 FP0 FN1 -> P1 R.5 F 2/3; class 1: TP1 FP1 -> P.5 R1 F 2/3; class 2: 0 */
    EXPECT_NEAR(m.precision[0], 1.0, 1e-12);
    EXPECT_NEAR(m.recall[0], 0.5, 1e-12);
    EXPECT_NEAR(m.precision[1], 0.5, 1e-12);
    EXPECT_NEAR(m.recall[1], 1.0, 1e-12);
    EXPECT_NEAR(m.f1[2], 0.0, 1e-12);
    EXPECT_NEAR(m.macro_f1, (2.0 / 3 + 2.0 / 3 + 0) / 3, 1e-12);
    EXPECT_NEAR(m.macro_precision, 0.5, 1e-12);
    EXPECT_NEAR(m.support[0], 2, 0);
    EXPECT_NEAR(st.buf[EV_CONFUSION + 2 * 3 + 1], 1, 0); /* true 2 predicted 1 */
    /* log-loss by hand */
    double p0 = exp(2) / (exp(2) + 2), p1 = exp(3) / (exp(3) + 2),
           p2 = exp(0.5) / (1 + exp(1) + exp(0.5)), p3 = 1 / (2 + exp(1));
    EXPECT_NEAR(m.log_loss, -(log(p0) + log(p1) + log(p2) + log(p3)) / 4, 1e-9);
    /* ECE: confidences c = max p; bins of width 1/15 */
    double conf[4] = {p0, p1, exp(1) / (1 + exp(1) + exp(0.5)), exp(1) / (2 + exp(1))};
    int corr[4] = {1, 1, 0, 0};
    double bc[15] = {0}, ba[15] = {0}, bn[15] = {0}, ece = 0;
    for (int i = 0; i < 4; i++) {
        int k = (int)ceil(conf[i] * 15) - 1;
        bn[k]++, bc[k] += conf[i], ba[k] += corr[i];
    }
    for (int k = 0; k < 15; k++)
        if (bn[k] > 0) ece += bn[k] / 4 * fabs(ba[k] / bn[k] - bc[k] / bn[k]);
    EXPECT_NEAR(m.ece, ece, 1e-9);
    eval_metrics_free(&m);
    eval_stats_free(&st);
    double t = temperature_fit(nll_ctx_f, z);
    double f0 = nll_ctx_f(t, z);
    EXPECT(f0 <= nll_ctx_f(t * 1.01, z) + 1e-12 && f0 <= nll_ctx_f(t / 1.01, z) + 1e-12,
           "T = %g is not a minimum", t);
    EXPECT(f0 <= nll_ctx_f(1.0, z) + 1e-12, "fitted T worse than T = 1");
    struct sbuf b = {0};
    sb_json_str(&b, "a\"b\\c\n");
    EXPECT_STR(b.s, "\"a\\\"b\\\\c\\u000a\"");
    sb_free(&b);
}

int main(void) {
    grad_check(HEAD_LINEAR, 0.0f, 0.0, 0);
    grad_check(HEAD_LINEAR, 0.0f, 0.1, 1);
    grad_check(HEAD_MLP, 0.0f, 0.0, 0);
    grad_check(HEAD_MLP, 0.4f, 0.1, 1);
    test_dropout();
    test_optim();
    test_split();
    test_metrics();
    return TEST_END();
}
