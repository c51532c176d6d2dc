/* weights.c - the validation grid search of the fusion weights (weights.h). */
#include "classify/weights.h"

#include <math.h>
#include <stdlib.h>

#include "classify/combine.h"
#include "util/status.h"

int weights_grid_count(int steps) { return (steps + 1) * (steps + 2) / 2; }

void weights_grid_point(int steps, int idx, struct fusion_weights *w) {
    int k = 0;
    for (int a = 0; a <= steps; a++)
        for (int b = 0; b <= steps - a; b++, k++)
            if (k == idx) {
                w->head = (double)a / steps;
                w->knn = (double)b / steps;
                w->name = (double)(steps - a - b) / steps;
                return;
            }
    w->head = w->knn = w->name = 0;
}

/* argmax with the smaller index on ties (classify_top's order) */
static int argmax(const float *s, int classes) {
    int best = 0;
    for (int c = 1; c < classes; c++)
        if (s[c] > s[best]) best = c;
    return best;
}

static int row_correct(const struct fusion_rows *r, int64_t i, const struct fusion_weights *w,
                       float *s) {
    size_t o = (size_t)i * r->classes;
    classify_combine(r->p_head + o, r->has_knn[i] ? r->p_knn + o : NULL,
                     r->has_name[i] ? r->p_name + o : NULL, w->head, w->knn, w->name, r->classes,
                     s);
    return argmax(s, r->classes) == r->y[i];
}

int64_t weights_correct(const struct fusion_rows *r, const struct fusion_weights *w) {
    float *s = malloc(sizeof(float) * (size_t)(r->classes > 0 ? r->classes : 1));
    int64_t k = 0;
    if (!s) return -1;
    for (int64_t i = 0; i < r->n; i++) k += row_correct(r, i, w, s);
    free(s);
    return k;
}

int weights_grid_correct(const struct fusion_rows *r, int steps, double *correct) {
    int g = weights_grid_count(steps);
    float *s = malloc(sizeof(float) * (size_t)(r->classes > 0 ? r->classes : 1));
    struct fusion_weights *pts = malloc(sizeof *pts * (size_t)g);
    if (!s || !pts) {
        free(s), free(pts);
        return err_set(ST_ERR, "classify: out of memory for the weight search");
    }
    for (int p = 0; p < g; p++) weights_grid_point(steps, p, &pts[p]);
    for (int64_t i = 0; i < r->n; i++)
        for (int p = 0; p < g; p++) correct[p] += row_correct(r, i, &pts[p], s);
    free(s), free(pts);
    return ST_OK;
}

int weights_grid_best(const double *correct, int steps, const struct fusion_weights *dflt) {
    double sum = dflt->head + dflt->knn + dflt->name;
    struct fusion_weights d = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    if (sum > 0) d = (struct fusion_weights){dflt->head / sum, dflt->knn / sum, dflt->name / sum};
    int g = weights_grid_count(steps), best = 0;
    double best_dist = INFINITY;
    for (int p = 0; p < g; p++) {
        struct fusion_weights w;
        weights_grid_point(steps, p, &w);
        double dist = fabs(w.head - d.head) + fabs(w.knn - d.knn) + fabs(w.name - d.name);
        /* counts are whole numbers; 1e-9 absorbs the rounding of the normalised defaults */
        if (correct[p] > correct[best] ||
            (correct[p] == correct[best] && dist < best_dist - 1e-9) || p == 0) {
            best = p;
            best_dist = dist;
        }
    }
    return best;
}
