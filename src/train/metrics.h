/* metrics.h - classification metrics, calibration and a small JSON writer.
 *
 * Evaluation is distributed: every rank accumulates sufficient statistics
 * of its rows into one flat double buffer (eval_stats.buf), the buffers are
 * summed across ranks (dist_allreduce_sum_f64), and eval_finish derives the
 * metrics. Counts are exact in double up to 2^53.
 *
 * Definitions (documented in docs/training.md):
 * - top-k: the true class is among the k highest logits (ties: lower index).
 * - per class c: precision = TP/(TP+FP) (0 when nothing was predicted c),
 *   recall = TP/support, F1 = 2PR/(P+R) (0 when P+R = 0).
 * - macro P/R/F1: unweighted mean over the classes with support > 0.
 * - log-loss: mean -log p(true) with p = softmax(logits / T), p clamped at 1e-15.
 * - ECE: 15 equal-width confidence bins over (0, 1]; sum over bins of
 *   |bin| / n * |accuracy(bin) - mean confidence(bin)|, confidence = max p.
 */
#ifndef ASSORT_TRAIN_METRICS_H
#define ASSORT_TRAIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define ECE_BINS 15

/* Offsets into eval_stats.buf. */
enum {
    EV_N = 0, EV_NLL, EV_TOP1, EV_TOP5,
    EV_ECE_COUNT,                     /* [ECE_BINS] */
    EV_ECE_CONF = EV_ECE_COUNT + ECE_BINS,
    EV_ECE_ACC = EV_ECE_CONF + ECE_BINS,
    EV_CONFUSION = EV_ECE_ACC + ECE_BINS /* (C, C): row = true, column = predicted */
};

struct eval_stats {
    int classes;
    size_t count;    /* doubles in buf */
    double *buf;
};

struct eval_metrics {
    int classes;
    double n, top1, top5, log_loss, ece;
    double macro_precision, macro_recall, macro_f1;
    double *precision, *recall, *f1, *support; /* (C) each, owned */
};

int eval_stats_init(struct eval_stats *st, int classes);
void eval_stats_reset(struct eval_stats *st);
void eval_stats_free(struct eval_stats *st);

/* Adds n rows: logits (n, C), true classes y (n), temperature T > 0. */
void eval_accumulate(struct eval_stats *st, const float *logits, const int32_t *y, int64_t n,
                     double temperature);

/* Sum of -log p(true) over rows at temperature T (for fitting T). */
double eval_nll_sum(const float *logits, const int32_t *y, int64_t n, int classes, double temperature);

/* Derives metrics from (already reduced) stats. out owns its arrays. */
int eval_finish(const struct eval_stats *st, struct eval_metrics *out);
void eval_metrics_free(struct eval_metrics *m);

/* Minimises f(T) over T in [0.05, 20] by golden-section search on log T
 * (f is convex in 1/T for softmax NLL, so unimodal). Returns the minimiser. */
double temperature_fit(double (*f)(double t, void *ctx), void *ctx);

/* A growing string for JSON. */
struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
};
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a JSON string literal (quoted, escaped). */
void sb_json_str(struct sbuf *b, const char *s);
/* Appends a JSON number (null for NaN/Inf). */
void sb_json_num(struct sbuf *b, double v);
void sb_free(struct sbuf *b);

/* Appends {"n":..,"top1":..,...,"per_class":{name:{p,r,f1,support}}} */
void eval_metrics_json(struct sbuf *b, const struct eval_metrics *m, char *const *class_names);

#endif
