/* test_nn_kernels.c - every CPU primitive against a naive direct convolution
 * written here from the TensorFlow SAME definition (not from the kernels). */
#include <stdint.h>
#include <string.h>

#include "nn/cpu_kernels.h"
#include "testlib.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / (double)(1ull << 24)) * 2.f - 1.f;
}
static void fill(float *p, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) p[i] = frand() * scale;
}
static double clamp6(double v) { return v < 0 ? 0 : (v > 6 ? 6 : v); }

/* TF SAME, written independently: pad so that out = ceil(in/s). */
static void ref_pad(int in, int k, int s, int *out, int *before) {
    *out = (in % s) ? in / s + 1 : in / s;
    int need = (*out - 1) * s + k - in;
    if (need < 0) need = 0;
    *before = need / 2;
}

/* Naive NHWC conv. depthwise: w (c, k, k, 1) as in the weights file;
 * otherwise w (cout, k, k, cin). Output (b, oh, ow, cout) in double. */
static void ref_conv(const float *in, int b, int h, int w, int cin, const float *wt,
                     const float *bias, int cout, int k, int s, int depthwise, int relu6,
                     double *out) {
    int oh, ow, pt, pl;
    ref_pad(h, k, s, &oh, &pt);
    ref_pad(w, k, s, &ow, &pl);
    for (int n = 0; n < b; n++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                for (int o = 0; o < cout; o++) {
                    double acc = bias[o];
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = y * s + ky - pt, ix = x * s + kx - pl;
                            if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
                            const float *px = in + (((size_t)n * h + iy) * w + ix) * cin;
                            if (depthwise)
                                acc += (double)px[o] * wt[((size_t)o * k + ky) * k + kx];
                            else
                                for (int i = 0; i < cin; i++)
                                    acc += (double)px[i] *
                                           wt[(((size_t)o * k + ky) * k + kx) * cin + i];
                        }
                    out[(((size_t)n * oh + y) * ow + x) * cout + o] = relu6 ? clamp6(acc) : acc;
                }
}

static double max_diff(const float *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as failure */
    }
    return m;
}

static void test_same_pad(void) {
    int o, p;
    /* Hand-derived from the TF formula. */
    cpu_same_pad(224, 3, 2, &o, &p); EXPECT_INT(o, 112); EXPECT_INT(p, 0); /* pads 0 before, 1 after */
    cpu_same_pad(7, 3, 2, &o, &p);   EXPECT_INT(o, 4);   EXPECT_INT(p, 1);
    cpu_same_pad(112, 5, 2, &o, &p); EXPECT_INT(o, 56);  EXPECT_INT(p, 1); /* total 3: 1 before, 2 after */
    cpu_same_pad(14, 5, 1, &o, &p);  EXPECT_INT(o, 14);  EXPECT_INT(p, 2);
    cpu_same_pad(15, 5, 2, &o, &p);  EXPECT_INT(o, 8);   EXPECT_INT(p, 2);
    cpu_same_pad(1, 5, 2, &o, &p);   EXPECT_INT(o, 1);   EXPECT_INT(p, 2);
}

static void test_depthwise(void) {
    const int sizes[][2] = {{8, 8}, {7, 7}, {9, 6}, {1, 1}, {2, 3}, {14, 14}};
    const int chans[] = {3, 8, 37, 40, 96};
    for (int si = 0; si < 6; si++)
        for (int ci = 0; ci < 5; ci++)
            for (int k = 3; k <= 5; k += 2)
                for (int s = 1; s <= 2; s++) {
                    int b = 2, h = sizes[si][0], w = sizes[si][1], c = chans[ci];
                    int oh, ow, pt, pl;
                    ref_pad(h, k, s, &oh, &pt);
                    ref_pad(w, k, s, &ow, &pl);
                    size_t nin = (size_t)b * h * w * c, nout = (size_t)b * oh * ow * c;
                    float *in = malloc(nin * 4), *wt = malloc((size_t)c * k * k * 4);
                    float *wkkc = malloc((size_t)c * k * k * 4), *bias = malloc((size_t)c * 4);
                    float *out = malloc(nout * 4);
                    double *ref = malloc(nout * 8);
                    fill(in, nin, 3.f);
                    fill(wt, (size_t)c * k * k, 1.f);
                    fill(bias, (size_t)c, 1.f);
                    for (int ch = 0; ch < c; ch++)
                        for (int t = 0; t < k * k; t++)
                            wkkc[(size_t)t * c + ch] = wt[(size_t)ch * k * k + t];
                    for (int relu = 0; relu <= 1; relu++) {
                        ref_conv(in, b, h, w, c, wt, bias, c, k, s, 1, relu, ref);
                        cpu_depthwise(in, b, h, w, c, wkkc, bias, k, s,
                                      relu ? CPU_ACT_RELU6 : CPU_ACT_NONE, out, 2);
                        double d = max_diff(out, ref, nout);
                        EXPECT(d <= 1e-4, "depthwise %dx%d c=%d k=%d s=%d relu=%d: max diff %g",
                               h, w, c, k, s, relu, d);
                    }
                    free(in); free(wt); free(wkkc); free(bias); free(out); free(ref);
                }
}

/* The naive reference of a 1x1 convolution of (rows, cin) into ref (rows,
 * cout): the k = 1 naive conv on a (rows, 1) image, ReLU6 when relu6, plus
 * the residual res (rows, cout) when res is not NULL. */
static void ref_conv1x1(const float *in, int rows, int cin, const float *wt, const float *bias,
                        int cout, int relu6, const float *res, double *ref) {
    ref_conv(in, 1, rows, 1, cin, wt, bias, cout, 1, 1, 0, relu6, ref);
    if (res)
        for (size_t i = 0; i < (size_t)rows * cout; i++) ref[i] += res[i];
}

static void test_conv1x1(void) {
    /* {600, 40, 1152}: several 1 MiB row tiles in the single-thread path */
    const int shapes[][3] = {{1, 16, 8}, {37, 24, 144}, {200, 96, 24}, {49, 1152, 40}, {600, 40, 1152}};
    for (int si = 0; si < 5; si++) {
        int rows = shapes[si][0], cin = shapes[si][1], cout = shapes[si][2];
        float *in = malloc((size_t)rows * cin * 4), *wt = malloc((size_t)cout * cin * 4);
        float *bias = malloc((size_t)cout * 4), *res = malloc((size_t)rows * cout * 4);
        float *out = malloc((size_t)rows * cout * 4);
        double *ref = malloc((size_t)rows * cout * 8);
        fill(in, (size_t)rows * cin, 2.f);
        fill(wt, (size_t)cout * cin, 0.5f);
        fill(bias, (size_t)cout, 1.f);
        fill(res, (size_t)rows * cout, 1.f);
        for (int mode = 0; mode < 6; mode++) { /* relu6, linear, linear + residual; x 1|2 threads */
            int threads = mode < 3 ? 1 : 2;
            ref_conv1x1(in, rows, cin, wt, bias, cout, mode % 3 == 0, mode % 3 == 2 ? res : NULL,
                        ref);
            cpu_conv1x1(in, rows, cin, wt, bias, cout, mode % 3 == 0 ? CPU_ACT_RELU6 : CPU_ACT_NONE,
                        mode % 3 == 2 ? res : NULL, out, threads);
            double d = max_diff(out, ref, (size_t)rows * cout);
            EXPECT(d <= 1e-4 * (1 + sqrt(cin)), "conv1x1 rows=%d cin=%d cout=%d mode=%d: %g",
                   rows, cin, cout, mode, d);
        }
        free(in); free(wt); free(bias); free(res); free(out); free(ref);
    }
}

/* Our packed GEMM (AVX-512 only): the same naive reference, panel mixes of
 * 32/16/8 columns, row counts around the 12-row tile, 1 and 2 threads; and
 * a row's output must not depend on the call it is part of (bit-identical
 * when the same rows are run as a sub-range of another call). */
static void test_conv1x1_packed(void) {
    if (!cpu_gemm_available(8)) {
        printf("# packed GEMM not available on this CPU (no AVX-512): not tested here\n");
        return;
    }
    /* {rows, cin, cout}: rows leave last tiles of every height 1..12; cout
     * 56 = 32+16+8, 24 = 16+8, 12 / 7 / 1 / 1000 end in a masked panel;
     * 1152 columns at cin 1152 make several column blocks. */
    const int shapes[][3] = {{1, 16, 8}, {13, 27, 32}, {38, 24, 144}, {201, 96, 24},
                             {53, 1152, 320}, {31, 40, 56}, {600, 40, 1152}, {12, 1152, 1152},
                             {47, 16, 24}, {18, 64, 40}, {10, 8, 16}, {4, 3, 8}, {3, 1, 8},
                             {14, 20, 12}, {27, 33, 7}, {5, 9, 1}, {40, 1280, 1000}};
    for (int si = 0; si < (int)(sizeof shapes / sizeof shapes[0]); si++) {
        int rows = shapes[si][0], cin = shapes[si][1], cout = shapes[si][2];
        float *in = malloc((size_t)rows * cin * 4), *wt = malloc((size_t)cout * cin * 4);
        float *pk = malloc(cpu_conv1x1_pack_count(cout, cin) * 4), *bias = malloc((size_t)cout * 4);
        float *res = malloc((size_t)rows * cout * 4), *out = malloc((size_t)rows * cout * 4);
        float *part = malloc((size_t)rows * cout * 4);
        double *ref = malloc((size_t)rows * cout * 8);
        fill(in, (size_t)rows * cin, 2.f);
        fill(wt, (size_t)cout * cin, 0.5f);
        fill(bias, (size_t)cout, 1.f);
        fill(res, (size_t)rows * cout, 1.f);
        cpu_conv1x1_pack(wt, cout, cin, pk);
        for (int mode = 0; mode < 6; mode++) { /* relu6, linear, linear + residual; x 1|2 threads */
            int threads = mode < 3 ? 1 : 2;
            enum cpu_act act = mode % 3 == 0 ? CPU_ACT_RELU6 : CPU_ACT_NONE;
            const float *r = mode % 3 == 2 ? res : NULL;
            ref_conv1x1(in, rows, cin, wt, bias, cout, mode % 3 == 0, r, ref);
            cpu_conv1x1_packed(in, rows, cin, pk, bias, cout, act, r, out, threads);
            double d = max_diff(out, ref, (size_t)rows * cout);
            EXPECT(d <= 1e-4 * (1 + sqrt(cin)), "packed conv1x1 rows=%d cin=%d cout=%d mode=%d: %g",
                   rows, cin, cout, mode, d);
            /* rows [r0, rows) alone: a different tile alignment, same bits */
            int r0 = rows / 3 + (rows > 1);
            if (r0 >= rows) r0 = 0;
            cpu_conv1x1_packed(in + (size_t)r0 * cin, rows - r0, cin, pk, bias, cout, act,
                               r ? r + (size_t)r0 * cout : NULL, part, 3 - threads);
            EXPECT(memcmp(part, out + (size_t)r0 * cout, (size_t)(rows - r0) * cout * 4) == 0,
                   "packed conv1x1 rows=%d cin=%d cout=%d mode=%d: rows %d.. differ run alone",
                   rows, cin, cout, mode, r0);
        }
        free(in); free(wt); free(pk); free(bias); free(res); free(out); free(part); free(ref);
    }
}

/* Stem: normalise + im2col + sgemm equals a 3x3/2 SAME conv of the
 * normalised image (zero padding in normalised space). */
static void test_stem(void) {
    const int sides[] = {16, 15, 9, 2};
    const float mean[3] = {127.f, 120.5f, 100.f}, std[3] = {128.f, 60.f, 70.f};
    for (int si = 0; si < 4; si++) {
        int b = 2, side = sides[si], k = 3, s = 2, cout = 8, o, p;
        ref_pad(side, k, s, &o, &p);
        size_t npx = (size_t)b * side * side * 3;
        uint8_t *px = malloc(npx);
        float *norm = malloc(npx * 4), *wt = malloc((size_t)cout * 27 * 4);
        float *bias = malloc((size_t)cout * 4), *cols = malloc((size_t)b * o * o * 27 * 4);
        float *out = malloc((size_t)b * o * o * cout * 4);
        double *ref = malloc((size_t)b * o * o * cout * 8);
        for (size_t i = 0; i < npx; i++) {
            px[i] = (uint8_t)((i * 2654435761u) >> 13);
            norm[i] = (px[i] - mean[i % 3]) / std[i % 3];
        }
        fill(wt, (size_t)cout * 27, 1.f);
        fill(bias, (size_t)cout, 1.f);
        ref_conv(norm, b, side, side, 3, wt, bias, cout, k, s, 0, 1, ref);
        cpu_stem_im2col(px, b, side, mean, std, k, s, cols, 2);
        cpu_conv1x1(cols, b * o * o, 27, wt, bias, cout, CPU_ACT_RELU6, NULL, out, 2);
        double d = max_diff(out, ref, (size_t)b * o * o * cout);
        EXPECT(d <= 1e-4, "stem side=%d: max diff %g", side, d);
        free(px); free(norm); free(wt); free(bias); free(cols); free(out); free(ref);
    }
}

static void test_avgpool(void) {
    int b = 3, hw = 49, c = 1280 + 3;
    float *in = malloc((size_t)b * hw * c * 4), *out = malloc((size_t)b * c * 4);
    fill(in, (size_t)b * hw * c, 5.f);
    cpu_avgpool(in, b, hw, c, out, 2);
    double worst = 0;
    for (int n = 0; n < b; n++)
        for (int j = 0; j < c; j++) {
            double acc = 0;
            for (int p = 0; p < hw; p++) acc += in[((size_t)n * hw + p) * c + j];
            double d = fabs(acc / hw - out[(size_t)n * c + j]);
            if (d > worst) worst = d;
        }
    EXPECT(worst <= 1e-5, "avgpool max diff %g", worst);
    free(in); free(out);
}

int main(void) {
    test_same_pad();
    test_depthwise();
    test_conv1x1();
    test_conv1x1_packed();
    test_stem();
    test_avgpool();
    return TEST_END();
}
