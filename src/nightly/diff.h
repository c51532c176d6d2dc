/* diff.h - the night's diff against the previous night, and drift figures.
 *
 * Compares the newest complete /predictions run with the one before it:
 *   - per level, products whose predicted class (by name) changed;
 *   - per level, products with a review flag bit that was not set before
 *     (a product new tonight counts with any flag);
 *   - near-duplicate groups (group_size > 1) whose members were not all in
 *     one group before ("new groups");
 *   - class-distribution drift per level over classified products: total
 *     variation 0.5 * sum|p - q| and PSI sum (p - q) ln(p / q) (bins empty on
 *     one side get 1e-4);
 *   - feature drift against the previous /nightly record: mean-embedding
 *     cosine shift 1 - cos(mean_prev, mean_now) and the mean PSI of
 *     NIGHT_PROJ fixed random projections binned at the previous night's
 *     deciles.
 * alert = 1 when a class PSI or the feature PSI exceeds nightly.drift_alert.
 * Everything is written to /nightly/<run-id> (layout in docs/nightly.md) in one
 * catalog transaction with its run record. Collective; every rank computes
 * the same figures, rank 0 writes.
 */
#ifndef ASSORT_NIGHTLY_DIFF_H
#define ASSORT_NIGHTLY_DIFF_H

#include <stdint.h>

#include "config/config.h"

#define NIGHT_PROJ 8     /* random projections for the feature PSI */
#define NIGHT_BINS 10    /* decile bins */
#define NIGHT_MAX_LEVELS 8

struct night_level {
    char name[128];
    int64_t classified;      /* products with a prediction tonight */
    int64_t changed;         /* predicted class changed */
    int64_t new_review;      /* a flag bit newly set */
    double class_tv;         /* NaN without a previous night */
    double class_psi;
};

struct night_diff {
    char run_id[96];             /* /nightly/<run_id> written */
    char predictions[96];        /* tonight's predictions run */
    char prev_predictions[96];   /* "" on the first night */
    char prev_night[96];         /* previous /nightly record ("" none) */
    int n_levels;
    struct night_level levels[NIGHT_MAX_LEVELS];
    int64_t groups;              /* duplicate groups tonight (size > 1) */
    int64_t new_groups;
    int64_t feature_rows;        /* active rows with valid features */
    double feature_cosine_shift; /* NaN without a previous night */
    double feature_psi;          /* NaN without a previous night */
    double drift_alert;          /* the threshold used */
    int alert;
};

/* Computes the diff and drift for the catalog at `path` and commits them as
 * /nightly/<run-id> (plus /runs/<run-id>). Needs at least one complete
 * /predictions run (ST_DATA with the fix otherwise). */
int nightly_diff(const char *path, const struct config *cfg, struct night_diff *out);

/* Pure helpers (tested in tests/unit/test_nightly.c). */
/* Total variation and PSI between two count vectors of the same classes. */
void night_class_drift(const int64_t *prev, const int64_t *now, int n_classes, double *tv, double *psi);
/* PSI of values `x` (n) binned at `edges` (NIGHT_BINS - 1 ascending) against
 * the expected bin fractions `expect` (NIGHT_BINS). */
double night_psi_binned(const double *x, int64_t n, const double *edges, const double *expect);
/* Decile edges (NIGHT_BINS - 1) of x (n > 0; x is sorted in place) and the
 * fractions of x in the resulting bins. */
void night_deciles(double *x, int64_t n, double *edges, double *fractions);
/* Fixed projection directions (NIGHT_PROJ, dim), unit length, seed-independent. */
void night_projections(int dim, double *dirs);

#endif
