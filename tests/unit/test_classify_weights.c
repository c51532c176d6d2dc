/* test_classify_weights.c - classify.weights=search (weights.h) on synthetic
 * validation sets whose best grid point was worked out by hand:
 * - four two-class rows whose correctness is a linear inequality in the
 *   weights: h > 1/1.8 (row 1), k > n (row 2), n >= 0.2 k (row 3),
 *   k >= 0.4 h (row 4); on the step-0.1 simplex only (0.6, 0.3, 0.1) gets
 *   all four right, the configured (0.5, 0.3, 0.2) only three;
 * - a perfect name source against a head and a vote agreeing on the wrong
 *   class: every point with w_name >= 0.5 is right (0.5 is a tie, which goes
 *   to the smaller class index, the true one); the nearest (L1) to
 *   (0.5, 0.3, 0.2) are four points at distance 0.6, of which (0.2, 0.3, 0.5)
 *   comes first in grid order; to a pure head, (0.5, 0, 0.5);
 * - an absent source is renormalised away, and all counts add over "ranks"
 *   (row subsets), so splitting the rows does not change the choice. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "classify/weights.h"
#include "dist/dist.h"
#include "util/status.h"
#include "testlib.h"

static int index_of(int steps, double h, double k, double n) {
    for (int p = 0; p < weights_grid_count(steps); p++) {
        struct fusion_weights w;
        weights_grid_point(steps, p, &w);
        if (fabs(w.head - h) < 1e-9 && fabs(w.knn - k) < 1e-9 && fabs(w.name - n) < 1e-9) return p;
    }
    return -1;
}

static void test_grid(void) {
    EXPECT_INT(weights_grid_count(10), 66);
    EXPECT_INT(weights_grid_count(1), 3);
    int seen_corner = 0;
    for (int p = 0; p < 66; p++) {
        struct fusion_weights w;
        weights_grid_point(10, p, &w);
        EXPECT_NEAR(w.head + w.knn + w.name, 1.0, 1e-12);
        EXPECT(w.head >= 0 && w.knn >= 0 && w.name >= 0, "negative weight at %d", p);
        EXPECT_NEAR(w.head * 10, round(w.head * 10), 1e-9);
        seen_corner += w.head == 1 || w.knn == 1 || w.name == 1;
        EXPECT_INT(index_of(10, w.head, w.knn, w.name), p); /* no duplicates */
    }
    EXPECT_INT(seen_corner, 3);
    struct fusion_weights w;
    weights_grid_point(10, 0, &w); /* head-major order starts at pure name */
    EXPECT(w.head == 0 && w.knn == 0 && w.name == 1, "first point %g/%g/%g", w.head, w.knn, w.name);
}

static void test_unique_best(void) {
    float ph[8] = {0.1f, 0.9f, 0.5f, 0.5f, 0.5f, 0.5f, 0.3f, 0.7f};
    float pk[8] = {1, 0, 0, 1, 0.4f, 0.6f, 1, 0};
    float pn[8] = {1, 0, 1, 0, 1, 0, 0.5f, 0.5f};
    uint8_t hk[4] = {1, 1, 1, 1}, hn[4] = {1, 1, 1, 1};
    int32_t y[4] = {1, 1, 0, 0};
    struct fusion_rows r = {4, 2, ph, pk, pn, hk, hn, y};
    double correct[66] = {0};
    EXPECT_INT(weights_grid_correct(&r, 10, correct), ST_OK);
    struct fusion_weights dflt = {0.5, 0.3, 0.2}, w;
    int best = weights_grid_best(correct, 10, &dflt);
    weights_grid_point(10, best, &w);
    EXPECT(fabs(w.head - 0.6) < 1e-9 && fabs(w.knn - 0.3) < 1e-9 && fabs(w.name - 0.1) < 1e-9,
           "chose %g/%g/%g, expected 0.6/0.3/0.1", w.head, w.knn, w.name);
    EXPECT_NEAR(correct[best], 4, 0);
    EXPECT_INT(weights_correct(&r, &dflt), 3);
    EXPECT_NEAR(correct[index_of(10, 0.5, 0.3, 0.2)], 3, 0);
    /* the inequalities by hand at a few points */
    EXPECT_NEAR(correct[index_of(10, 0.7, 0.2, 0.1)], 3, 0); /* k >= 0.4 h fails */
    EXPECT_NEAR(correct[index_of(10, 0.6, 0.4, 0.0)], 3, 0); /* n >= 0.2 k fails */
    EXPECT_NEAR(correct[index_of(10, 0.6, 0.2, 0.2)], 2, 0); /* k > n (tie -> class 0) and k >= 0.4 h fail */
    /* rows split over two "ranks": counts add, same choice */
    double part[66] = {0};
    struct fusion_rows r1 = {2, 2, ph, pk, pn, hk, hn, y};
    struct fusion_rows r2 = {2, 2, ph + 4, pk + 4, pn + 4, hk + 2, hn + 2, y + 2};
    EXPECT_INT(weights_grid_correct(&r1, 10, part), ST_OK);
    EXPECT_INT(weights_grid_correct(&r2, 10, part), ST_OK);
    EXPECT(!memcmp(part, correct, sizeof part), "split counts differ");
    EXPECT_INT(weights_grid_best(part, 10, &dflt), best);
}

static void test_ties_to_defaults(void) {
    /* 3 classes, y = 0; head and vote say class 2, the name is right */
    float ph[3] = {0, 0, 1}, pk[3] = {0, 0, 1}, pn[3] = {1, 0, 0};
    uint8_t hk[1] = {1}, hn[1] = {1};
    int32_t y[1] = {0};
    struct fusion_rows r = {1, 3, ph, pk, pn, hk, hn, y};
    double correct[66] = {0};
    EXPECT_INT(weights_grid_correct(&r, 10, correct), ST_OK);
    int right = 0;
    for (int p = 0; p < 66; p++) {
        struct fusion_weights w;
        weights_grid_point(10, p, &w);
        /* right iff n > h + k, or n == h + k = 0.5 (tie goes to class 0) */
        EXPECT_NEAR(correct[p], w.name >= 0.5 - 1e-9 ? 1 : 0, 0);
        right += correct[p] > 0;
    }
    EXPECT_INT(right, 21); /* points with name >= 0.5: 6+5+4+3+2+1 */
    struct fusion_weights dflt = {0.5, 0.3, 0.2}, w;
    weights_grid_point(10, weights_grid_best(correct, 10, &dflt), &w);
    /* nearest to (0.5, 0.3, 0.2) with name >= 0.5: (0.2, 0.3, 0.5), distance 0.6 */
    EXPECT(fabs(w.head - 0.2) < 1e-9 && fabs(w.knn - 0.3) < 1e-9 && fabs(w.name - 0.5) < 1e-9,
           "chose %g/%g/%g, expected 0.2/0.3/0.5", w.head, w.knn, w.name);
    /* unnormalised configured weights count the same as normalised ones */
    struct fusion_weights big = {5, 3, 2};
    EXPECT_INT(weights_grid_best(correct, 10, &big), weights_grid_best(correct, 10, &dflt));
    /* configured pure head: distance 2 (1 - h) over right points, least at
     * h = 0.5, the only such point being (0.5, 0, 0.5) */
    struct fusion_weights head = {1, 0, 0};
    weights_grid_point(10, weights_grid_best(correct, 10, &head), &w);
    EXPECT(fabs(w.head - 0.5) < 1e-9 && w.knn == 0 && fabs(w.name - 0.5) < 1e-9,
           "chose %g/%g/%g, expected 0.5/0/0.5", w.head, w.knn, w.name);
    /* the vote absent: renormalised over head and name, so (0.4, 0.3, 0.3)
     * compares 0.3 vs 0.4 -> wrong, (0.3, 0.3, 0.4) -> 0.4 vs 0.3 right */
    hk[0] = 0;
    struct fusion_weights a = {0.4, 0.3, 0.3}, b = {0.3, 0.3, 0.4};
    EXPECT_INT(weights_correct(&r, &a), 0);
    EXPECT_INT(weights_correct(&r, &b), 1);
    /* with the vote present, (0.3,0.3,0.4) is wrong: 0.4 vs 0.6 */
    hk[0] = 1;
    EXPECT_INT(weights_correct(&r, &b), 0);
}

int main(int argc, char **argv) {
    dist_init(&argc, &argv);
    test_grid();
    test_unique_best();
    test_ties_to_defaults();
    int rc = TEST_END();
    dist_finalize();
    return rc;
}
