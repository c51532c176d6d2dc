/* test_classify_math.c - the classify math against hand-worked values and
 * brute force: neighbour vote and the leakage rule, combination, calibration,
 * top-3, flags, NLL, the name model, CSV quoting. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "classify/combine.h"
#include "classify/export.h"
#include "classify/name_model.h"
#include "dist/dist.h"
#include "util/status.h"
#include "testlib.h"

static void test_vote_and_leakage(void) {
    /* rows: 0 test (the query), 1,2 test class A=0 very similar, 3,4 train class B=1,
     * 5 unlabelled, 6 val class 2 */
    int32_t hclass[7] = {0, 0, 0, 1, 1, -1, 2};
    int8_t part[7] = {2, 2, 2, 0, 0, -1, 1};
    int64_t nb[6] = {1, 2, 3, 4, 5, 0};
    float sc[6] = {0.99f, 0.98f, 0.5f, 0.3f, 0.9f, 1.0f};
    float p[3];
    int v = classify_knn_vote(nb, sc, 6, 0, hclass, part, 3, p);
    /* only the train neighbours 3 and 4 vote: weights 0.5 and 0.3, both class 1.
     * If test labels leaked, class 0 (1.97) would win. */
    EXPECT_INT(v, 2);
    EXPECT_NEAR(p[1], 1.0, 1e-7);
    EXPECT_NEAR(p[0], 0.0, 0);
    /* a train product (row 3) sees every labelled neighbour but itself */
    int64_t nb3[4] = {1, 6, 3, 5};
    float sc3[4] = {0.6f, 0.2f, 1.0f, 0.9f};
    v = classify_knn_vote(nb3, sc3, 4, 3, hclass, part, 3, p);
    EXPECT_INT(v, 2);
    EXPECT_NEAR(p[0], 0.6 / 0.8, 1e-6);
    EXPECT_NEAR(p[2], 0.2 / 0.8, 1e-6);
    /* negative scores and pads do not vote; none left: absent */
    int64_t nb4[3] = {-1, 3, 4};
    float sc4[3] = {1.0f, -0.2f, 0.0f};
    v = classify_knn_vote(nb4, sc4, 3, 0, hclass, part, 3, p);
    EXPECT_INT(v, 0);
    EXPECT(p[0] == 0 && p[1] == 0 && p[2] == 0, "absent vote not zero");
    EXPECT_INT(classify_vote_allowed(1, 2), 0);
    EXPECT_INT(classify_vote_allowed(1, 1), 0);
    EXPECT_INT(classify_vote_allowed(-1, 2), 1);
}

static void test_combine_calibrate(void) {
    float ph[3] = {0.7f, 0.2f, 0.1f}, pk[3] = {0, 1, 0}, pn[3] = {0.2f, 0.5f, 0.3f}, s[3], q[3];
    double w = classify_combine(ph, pk, pn, 0.5, 0.3, 0.2, 3, s);
    EXPECT_NEAR(w, 1.0, 1e-12);
    EXPECT_NEAR(s[0], 0.35 + 0.04, 1e-6);
    EXPECT_NEAR(s[1], 0.10 + 0.3 + 0.1, 1e-6);
    EXPECT_NEAR(s[2], 0.05 + 0.06, 1e-6);
    /* knn absent: renormalised over head and name */
    w = classify_combine(ph, NULL, pn, 0.5, 0.3, 0.2, 3, s);
    EXPECT_NEAR(w, 0.7, 1e-12);
    EXPECT_NEAR(s[0], (0.35 + 0.04) / 0.7, 1e-6);
    EXPECT_NEAR(s[0] + s[1] + s[2], 1.0, 1e-6);
    /* T = 1 leaves s unchanged; T = 2 is sqrt then renormalise */
    classify_calibrate(s, 3, 1.0, q);
    for (int c = 0; c < 3; c++) EXPECT_NEAR(q[c], s[c], 1e-6);
    classify_calibrate(s, 3, 2.0, q);
    double z = sqrt(s[0]) + sqrt(s[1]) + sqrt(s[2]);
    for (int c = 0; c < 3; c++) EXPECT_NEAR(q[c], sqrt(s[c]) / z, 1e-6);
    /* softmax at T against hand values */
    float lg[2] = {1.0f, 0.0f}, p[2];
    classify_softmax(lg, 2, 0.5, p);
    EXPECT_NEAR(p[0], 1.0 / (1.0 + exp(-2.0)), 1e-6);
    /* NLL: -log q[y], brute force */
    int32_t y[2] = {0, 1};
    float ss[4] = {0.8f, 0.2f, 0.4f, 0.6f};
    EXPECT_NEAR(classify_nll(ss, y, 2, 2, 1.0), -log(0.8) - log(0.6), 1e-6);
    double a = pow(0.4, 0.5), b = pow(0.6, 0.5);
    EXPECT_NEAR(classify_nll(ss + 2, y + 1, 1, 2, 2.0), -log(b / (a + b)), 1e-6);
}

static void test_top_flags(void) {
    float q[5] = {0.1f, 0.3f, 0.3f, 0.05f, 0.25f}, sc[3];
    int32_t top[3];
    classify_top(q, 5, top, sc);
    EXPECT_INT(top[0], 1); /* tie with 2: smaller index first */
    EXPECT_INT(top[1], 2);
    EXPECT_INT(top[2], 4);
    float q2[2] = {0.4f, 0.6f};
    classify_top(q2, 2, top, sc);
    EXPECT(top[0] == 1 && top[1] == 0 && top[2] == -1 && sc[2] == 0, "two classes");
    EXPECT_INT(classify_flags(1, 0.5f, 1, 1, 0.6, 0.9), FLAG_NEEDS_REVIEW);
    EXPECT_INT(classify_flags(1, 0.95f, 2, 3, 0.6, 0.9), FLAG_SUSPECTED_MISLABEL | FLAG_DUPLICATE);
    EXPECT_INT(classify_flags(1, 0.95f, 1, 1, 0.6, 0.9), 0);
    EXPECT_INT(classify_flags(1, 0.7f, 2, 1, 0.6, 0.9), 0);   /* disagrees, not confident */
    EXPECT_INT(classify_flags(1, 0.95f, -1, 1, 0.6, 0.9), 0); /* unlabelled */
    EXPECT_INT(classify_flags(-1, 0, 1, 2, 0.6, 0.9), FLAG_NOT_CLASSIFIED | FLAG_DUPLICATE);
}

static void test_name_model(void) {
    /* three classes told apart only by a word in the name */
    static char names[60][256];
    const char *w[3] = {"Tshirt", "Sneaker", "Watch"};
    int64_t rows[60];
    int32_t y[60];
    for (int i = 0; i < 60; i++) {
        snprintf(names[i], 256, "Brand%d %s %s", i % 7, i % 2 ? "Blue" : "Red", w[i % 3]);
        rows[i] = i, y[i] = i % 3;
    }
    struct name_index *ix = NULL;
    EXPECT_INT(name_index_build(&names[0][0], 256, 60, 3, &ix, NULL), ST_OK);
    struct name_model m;
    struct name_train_opts o = {8, 0.5, 1e-6, 42};
    EXPECT_INT(name_model_train(ix, rows, y, 40, 3, &o, &m), ST_OK); /* rows 40..59 held out */
    int correct = 0;
    float lg[3];
    for (int i = 40; i < 60; i++) {
        name_model_logits(&m, ix, i, lg);
        int best = lg[1] > lg[0] ? 1 : 0;
        best = lg[2] > lg[best] ? 2 : best;
        correct += best == y[i];
    }
    EXPECT_INT(correct, 20);
    /* same seed, same model (bit for bit) */
    struct name_model m2;
    EXPECT_INT(name_model_train(ix, rows, y, 40, 3, &o, &m2), ST_OK);
    EXPECT(!memcmp(m.w, m2.w, sizeof(float) * (size_t)m.terms * 3), "training not deterministic");
    name_model_free(&m);
    name_model_free(&m2);
    name_index_free(ix);
}

static void test_csv(void) {
    struct sbuf b = {0};
    export_csv_str(&b, "a, \"b\" <script>");
    EXPECT_STR(b.s, "\"a, \"\"b\"\" <script>\"");
    sb_free(&b);
    char fl[64];
    export_flag_names(FLAG_NEEDS_REVIEW | FLAG_DUPLICATE, fl, sizeof fl);
    EXPECT_STR(fl, "needs_review|duplicate");
}

int main(int argc, char **argv) {
    dist_init(&argc, &argv);
    test_vote_and_leakage();
    test_combine_calibrate();
    test_top_flags();
    test_name_model();
    test_csv();
    int rc = TEST_END();
    dist_finalize();
    return rc;
}
