#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

int eval_stats_init(struct eval_stats *st, int classes) {
    st->classes = classes;
    st->count = EV_CONFUSION + (size_t)classes * (size_t)classes;
    st->buf = calloc(st->count, sizeof(double));
    if (!st->buf) return err_set(ST_ERR, "out of memory for a %d-class confusion matrix", classes);
    return ST_OK;
}

void eval_stats_reset(struct eval_stats *st) { memset(st->buf, 0, st->count * sizeof(double)); }

void eval_stats_free(struct eval_stats *st) {
    free(st->buf);
    st->buf = NULL;
}

void eval_accumulate(struct eval_stats *st, const float *logits, const int32_t *y, int64_t n,
                     double temperature) {
    int c = st->classes;
    double *b = st->buf;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * c;
        int yi = y[i], arg = 0;
        for (int k = 1; k < c; k++)
            if (z[k] > z[arg]) arg = k;
        int above = 0; /* classes ranked before the true one */
        for (int k = 0; k < c; k++)
            if (z[k] > z[yi] || (z[k] == z[yi] && k < yi)) above++;
        double zmax = z[arg] / temperature, sum = 0.0;
        for (int k = 0; k < c; k++) sum += exp(z[k] / temperature - zmax);
        double py = exp(z[yi] / temperature - zmax) / sum;
        double conf = 1.0 / sum;
        if (py < 1e-15) py = 1e-15;
        b[EV_N] += 1;
        b[EV_NLL] -= log(py);
        b[EV_TOP1] += arg == yi;
        b[EV_TOP5] += above < 5;
        int bin = (int)ceil(conf * ECE_BINS) - 1;
        if (bin < 0) bin = 0;
        if (bin >= ECE_BINS) bin = ECE_BINS - 1;
        b[EV_ECE_COUNT + bin] += 1;
        b[EV_ECE_CONF + bin] += conf;
        b[EV_ECE_ACC + bin] += arg == yi;
        b[EV_CONFUSION + (size_t)yi * c + arg] += 1;
    }
}

double eval_nll_sum(const float *logits, const int32_t *y, int64_t n, int classes, double temperature) {
    double nll = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * classes;
        double zmax = z[0];
        for (int k = 1; k < classes; k++)
            if (z[k] > zmax) zmax = z[k];
        double sum = 0.0;
        for (int k = 0; k < classes; k++) sum += exp((z[k] - zmax) / temperature);
        nll -= (z[y[i]] - zmax) / temperature - log(sum);
    }
    return nll;
}

int eval_finish(const struct eval_stats *st, struct eval_metrics *m) {
    int c = st->classes;
    const double *b = st->buf;
    memset(m, 0, sizeof *m);
    m->classes = c;
    m->precision = calloc((size_t)c, sizeof(double));
    m->recall = calloc((size_t)c, sizeof(double));
    m->f1 = calloc((size_t)c, sizeof(double));
    m->support = calloc((size_t)c, sizeof(double));
    if (!m->precision || !m->recall || !m->f1 || !m->support) {
        eval_metrics_free(m);
        return err_set(ST_ERR, "out of memory for metrics");
    }
    double n = b[EV_N];
    m->n = n;
    m->top1 = n > 0 ? b[EV_TOP1] / n : 0;
    m->top5 = n > 0 ? b[EV_TOP5] / n : 0;
    m->log_loss = n > 0 ? b[EV_NLL] / n : 0;
    double ece = 0;
    for (int k = 0; k < ECE_BINS; k++) {
        double cnt = b[EV_ECE_COUNT + k];
        if (cnt > 0) ece += cnt / n * fabs(b[EV_ECE_ACC + k] / cnt - b[EV_ECE_CONF + k] / cnt);
    }
    m->ece = ece;
    const double *cm = b + EV_CONFUSION;
    int present = 0;
    for (int k = 0; k < c; k++) {
        double tp = cm[(size_t)k * c + k], sup = 0, pred = 0;
        for (int j = 0; j < c; j++) {
            sup += cm[(size_t)k * c + j];
            pred += cm[(size_t)j * c + k];
        }
        m->support[k] = sup;
        m->precision[k] = pred > 0 ? tp / pred : 0;
        m->recall[k] = sup > 0 ? tp / sup : 0;
        double pr = m->precision[k] + m->recall[k];
        m->f1[k] = pr > 0 ? 2 * m->precision[k] * m->recall[k] / pr : 0;
        if (sup > 0) {
            present++;
            m->macro_precision += m->precision[k];
            m->macro_recall += m->recall[k];
            m->macro_f1 += m->f1[k];
        }
    }
    if (present) {
        m->macro_precision /= present;
        m->macro_recall /= present;
        m->macro_f1 /= present;
    }
    return ST_OK;
}

void eval_metrics_free(struct eval_metrics *m) {
    free(m->precision);
    free(m->recall);
    free(m->f1);
    free(m->support);
    m->precision = m->recall = m->f1 = m->support = NULL;
}

double temperature_fit(double (*f)(double t, void *ctx), void *ctx) {
    const double g = 0.6180339887498949;
    double a = log(0.05), b = log(20.0);
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = f(exp(x1), ctx), f2 = f(exp(x2), ctx);
    for (int it = 0; it < 60; it++) {
        if (f1 <= f2) {
            b = x2, x2 = x1, f2 = f1;
            x1 = b - g * (b - a);
            f1 = f(exp(x1), ctx);
        } else {
            a = x1, x1 = x2, f1 = f2;
            x2 = a + g * (b - a);
            f2 = f(exp(x2), ctx);
        }
    }
    return exp(0.5 * (a + b));
}

void sb_printf(struct sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && (size_t)k < room) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)k + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

void sb_json_str(struct sbuf *b, const char *s) {
    sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') sb_printf(b, "\\%c", *p);
        else if (*p < 0x20) sb_printf(b, "\\u%04x", *p);
        else sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

void sb_json_num(struct sbuf *b, double v) {
    if (isfinite(v)) sb_printf(b, "%.9g", v);
    else sb_printf(b, "null");
}

void sb_free(struct sbuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

void eval_metrics_json(struct sbuf *b, const struct eval_metrics *m, char *const *class_names) {
    static const char *keys[] = {"n", "top1", "top5", "log_loss", "ece", "macro_precision",
                                 "macro_recall", "macro_f1"};
    const double vals[] = {m->n, m->top1, m->top5, m->log_loss, m->ece, m->macro_precision,
                           m->macro_recall, m->macro_f1};
    sb_printf(b, "{");
    for (int i = 0; i < 8; i++) {
        sb_printf(b, "%s\"%s\":", i ? "," : "", keys[i]);
        sb_json_num(b, vals[i]);
    }
    sb_printf(b, ",\"per_class\":{");
    for (int k = 0; k < m->classes; k++) {
        if (k) sb_printf(b, ",");
        if (class_names) sb_json_str(b, class_names[k]);
        else sb_printf(b, "\"%d\"", k);
        sb_printf(b, ":{\"precision\":");
        sb_json_num(b, m->precision[k]);
        sb_printf(b, ",\"recall\":");
        sb_json_num(b, m->recall[k]);
        sb_printf(b, ",\"f1\":");
        sb_json_num(b, m->f1[k]);
        sb_printf(b, ",\"support\":%.0f}", m->support[k]);
    }
    sb_printf(b, "}}");
}
