/* combine.c - vote, combination, calibration, top-3 and flags (combine.h). */
#include "classify/combine.h"

#include <math.h>
#include <string.h>

int classify_vote_allowed(int8_t part, int8_t nb_part) {
    if (part == CLASSIFY_VAL || part == CLASSIFY_TEST) return nb_part == CLASSIFY_TRAIN;
    return 1;
}

int classify_knn_vote(const int64_t *nb, const float *score, int k, int64_t self,
                      const int32_t *hclass, const int8_t *part, int classes, float *p) {
    double acc[classes > 0 ? classes : 1];
    memset(acc, 0, sizeof(double) * (size_t)(classes > 0 ? classes : 1));
    double total = 0;
    int voters = 0;
    for (int j = 0; j < k; j++) {
        int64_t r = nb[j];
        if (r < 0 || r == self) continue;
        int32_t y = hclass[r];
        if (y < 0 || y >= classes) continue;
        if (!classify_vote_allowed(part[self], part[r])) continue;
        double w = score[j] > 0 && isfinite(score[j]) ? score[j] : 0;
        if (w <= 0) continue;
        acc[y] += w;
        total += w;
        voters++;
    }
    for (int c = 0; c < classes; c++) p[c] = voters ? (float)(acc[c] / total) : 0.0f;
    return voters;
}

void classify_softmax(const float *logits, int classes, double t, float *p) {
    double mx = -INFINITY, sum = 0;
    for (int c = 0; c < classes; c++)
        if (logits[c] / t > mx) mx = logits[c] / t;
    for (int c = 0; c < classes; c++) sum += exp(logits[c] / t - mx);
    for (int c = 0; c < classes; c++) p[c] = (float)(exp(logits[c] / t - mx) / sum);
}

double classify_combine(const float *p_head, const float *p_knn, const float *p_name,
                        double w_head, double w_knn, double w_name, int classes, float *s) {
    double wsum = (p_head ? w_head : 0) + (p_knn ? w_knn : 0) + (p_name ? w_name : 0);
    for (int c = 0; c < classes; c++) {
        if (wsum <= 0) {
            s[c] = 1.0f / (float)classes;
            continue;
        }
        double v = 0;
        if (p_head) v += w_head * p_head[c];
        if (p_knn) v += w_knn * p_knn[c];
        if (p_name) v += w_name * p_name[c];
        s[c] = (float)(v / wsum);
    }
    return wsum;
}

void classify_calibrate(const float *s, int classes, double t, float *q) {
    double mx = -INFINITY, sum = 0;
    double lg[classes > 0 ? classes : 1];
    for (int c = 0; c < classes; c++) {
        lg[c] = log(s[c] > CLASSIFY_FLOOR ? (double)s[c] : CLASSIFY_FLOOR) / t;
        if (lg[c] > mx) mx = lg[c];
    }
    for (int c = 0; c < classes; c++) sum += exp(lg[c] - mx);
    for (int c = 0; c < classes; c++) q[c] = (float)(exp(lg[c] - mx) / sum);
}

void classify_top(const float *q, int classes, int32_t *top, float *score) {
    for (int j = 0; j < CLASSIFY_TOPK; j++) top[j] = -1, score[j] = 0;
    for (int c = 0; c < classes; c++) {
        /* insertion into the sorted top list; strict > keeps the smaller index on ties */
        int pos = CLASSIFY_TOPK;
        while (pos > 0 && (top[pos - 1] < 0 || q[c] > score[pos - 1])) pos--;
        if (pos >= CLASSIFY_TOPK) continue;
        for (int j = CLASSIFY_TOPK - 1; j > pos; j--) top[j] = top[j - 1], score[j] = score[j - 1];
        top[pos] = c;
        score[pos] = q[c];
    }
}

uint8_t classify_flags(int32_t pred, float conf, int32_t label, int64_t group_size,
                       double review_threshold, double mislabel_threshold) {
    uint8_t f = 0;
    if (pred < 0) return FLAG_NOT_CLASSIFIED | (group_size > 1 ? FLAG_DUPLICATE : 0);
    if (conf < review_threshold) f |= FLAG_NEEDS_REVIEW;
    if (label >= 0 && label != pred && conf >= mislabel_threshold) f |= FLAG_SUSPECTED_MISLABEL;
    if (group_size > 1) f |= FLAG_DUPLICATE;
    return f;
}

double classify_nll(const float *s, const int32_t *y, int64_t n, int classes, double t) {
    double nll = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] < 0) continue;
        const float *si = s + (size_t)i * classes;
        double mx = -INFINITY, sum = 0, lt = 0;
        for (int c = 0; c < classes; c++) {
            double l = log(si[c] > CLASSIFY_FLOOR ? (double)si[c] : CLASSIFY_FLOOR) / t;
            if (l > mx) mx = l;
        }
        for (int c = 0; c < classes; c++) {
            double l = log(si[c] > CLASSIFY_FLOOR ? (double)si[c] : CLASSIFY_FLOOR) / t;
            sum += exp(l - mx);
            if (c == y[i]) lt = l;
        }
        double p = exp(lt - mx) / sum;
        nll -= log(p > 1e-15 ? p : 1e-15);
    }
    return nll;
}
