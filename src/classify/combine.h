/* combine.h - the math of `assort classify` for one product and one level:
 * the neighbours' vote, the weighted combination of the three sources, the
 * temperature-scaled confidence, the top-3 and the flags. Pure and local.
 *
 * All distributions are over the head's C classes (the class table after the
 * rare-class rule, /heads/<name>/classes). Definitions (docs/classify.md):
 * - head:  p_head = softmax(logits / T_head), T_head fitted by `assort train`.
 * - kNN:   p_knn[c] = sum of max(score, 0) over the voting neighbours of
 *          class c, divided by the sum over all voting neighbours. A
 *          neighbour votes when it is not the product itself, has a label the
 *          head knows (class_map >= 0) and is allowed by the leakage rule
 *          (classify_vote_allowed). No voting weight: the source is absent.
 * - name:  p_name = softmax regression over the name's TF-IDF vector
 *          (name_model.h).
 * - combined s = (w_head p_head + w_knn p_knn + w_name p_name) / (sum of the
 *          weights of the present sources); s sums to 1.
 * - calibrated q = softmax(log(max(s, 1e-12)) / T); T = 1 leaves s as it is
 *          (up to the 1e-12 floor), T is fitted on the validation split.
 */
#ifndef ASSORT_CLASSIFY_COMBINE_H
#define ASSORT_CLASSIFY_COMBINE_H

#include <stdint.h>

#define CLASSIFY_TOPK 3
#define CLASSIFY_FLOOR 1e-12

/* flags bit field, /predictions/<run>/<level>/flags (uint8) */
enum classify_flag {
    FLAG_NEEDS_REVIEW = 1,       /* confidence < classify.review_threshold */
    FLAG_SUSPECTED_MISLABEL = 2, /* labelled, label != prediction, confidence >= mislabel_threshold */
    FLAG_DUPLICATE = 4,          /* in a near-duplicate group of size >= 2 */
    FLAG_NOT_CLASSIFIED = 8      /* no features or removed: pred = -1 */
};

/* The split parts, as in /splits/<level> (train/split.h). */
#define CLASSIFY_TRAIN 0
#define CLASSIFY_VAL 1
#define CLASSIFY_TEST 2

/* Leakage rule: may a labelled neighbour in split part `nb_part` vote for a
 * product in part `part`? Products being evaluated (val, test) see only
 * training neighbours, so no held-out label reaches a held-out prediction;
 * every other product (train, unused, unlabelled) sees every labelled
 * neighbour. Pure. */
int classify_vote_allowed(int8_t part, int8_t nb_part);

/* kNN vote of one product. nb (k) global rows (-1 = pad), score (k);
 * label_of(row) = the neighbour's head class or -1 through `hclass` (N);
 * part (N) split parts; self = the product's row. Writes p (C); returns the
 * number of voting neighbours (0: p is all zero, the source is absent). */
int classify_knn_vote(const int64_t *nb, const float *score, int k, int64_t self,
                      const int32_t *hclass, const int8_t *part, int classes, float *p);

/* Softmax of logits (C) at temperature t into p (C), in double internally. */
void classify_softmax(const float *logits, int classes, double t, float *p);

/* Combination: any of p_head/p_knn/p_name may be NULL (absent). Writes s (C)
 * and returns the sum of the weights used (0: nothing present, s uniform). */
double classify_combine(const float *p_head, const float *p_knn, const float *p_name,
                        double w_head, double w_knn, double w_name, int classes, float *s);

/* Calibrated distribution q (C) of a combined s at temperature t. */
void classify_calibrate(const float *s, int classes, double t, float *q);

/* The CLASSIFY_TOPK best classes of q (score desc, smaller index on ties);
 * top/score get -1 / 0 where C < CLASSIFY_TOPK. */
void classify_top(const float *q, int classes, int32_t *top, float *score);

/* Flags of one product: conf = q[top[0]], label = its head class or -1. */
uint8_t classify_flags(int32_t pred, float conf, int32_t label, int64_t group_size,
                       double review_threshold, double mislabel_threshold);

/* NLL sum of -log q[y] at temperature t over n rows of s (n, C) with true
 * classes y (n) (rows with y < 0 skipped), q floored at 1e-15. */
double classify_nll(const float *s, const int32_t *y, int64_t n, int classes, double t);

#endif
