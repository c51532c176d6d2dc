/* weights.h - choosing the fusion weights (w_head, w_knn, w_name) of one
 * level on the validation split (classify.weights = search).
 *
 * The grid is the simplex {(a, b, c) / S : a + b + c = S, integers >= 0}
 * with S = 1 / classify.weight_step, (S + 1)(S + 2) / 2 points, enumerated
 * head-major: for a = 0..S, for b = 0..S-a: (a, b, S-a-b) / S. A point's
 * score is the number of validation rows whose combined score
 * (classify_combine, absent sources renormalised away) has its argmax (the
 * smaller class index on ties, as classify_top) at the true class. The best
 * point has the most correct rows; ties go to the point nearest (L1) to the
 * configured weights normalised to sum 1, then to the earlier point. Counts
 * are integers, so summing them over ranks gives the same choice for any
 * rank count. Pure and local. Documented in docs/classify.md.
 */
#ifndef ASSORT_CLASSIFY_WEIGHTS_H
#define ASSORT_CLASSIFY_WEIGHTS_H

#include <stdint.h>

struct fusion_weights {
    double head, knn, name;
};

/* Validation rows of one level: the three sources as probabilities. */
struct fusion_rows {
    int64_t n;
    int classes;
    const float *p_head;      /* (n, C) softmax(logits / T_head) */
    const float *p_knn;       /* (n, C) neighbour vote; a row without voters is ignored */
    const float *p_name;      /* (n, C) name model softmax */
    const uint8_t *has_knn;   /* (n) 1: the vote is present */
    const uint8_t *has_name;  /* (n) 1: the name source is present */
    const int32_t *y;         /* (n) true class in [0, C) */
};

/* Number of grid points for `steps` steps per unit (steps >= 1). */
int weights_grid_count(int steps);

/* Grid point idx in [0, weights_grid_count(steps)) into *w (sums to 1). */
void weights_grid_point(int steps, int idx, struct fusion_weights *w);

/* Rows of r whose fused argmax with weights w is the true class. */
int64_t weights_correct(const struct fusion_rows *r, const struct fusion_weights *w);

/* Adds, for every grid point, the number of correct rows of r to
 * correct[idx] (caller zeroes it; weights_grid_count(steps) entries).
 * Returns ST_OK or ST_ERR (out of memory). */
int weights_grid_correct(const struct fusion_rows *r, int steps, double *correct);

/* Index of the best grid point (rule above); dflt = the configured weights
 * (normalised here; all zero counts as equal thirds). */
int weights_grid_best(const double *correct, int steps, const struct fusion_weights *dflt);

#endif
