/* cpu_kernels.c - CPU primitives: SAME padding, stem im2col, 1x1 conv via
 * sgemm, depthwise conv as direct loops vectorised over channels, pooling.
 *
 * The hot loops are compiled for AVX-512, AVX2+FMA and baseline x86-64 with
 * target_clones (picked at load time by the CPU), so the build needs no
 * -march flag and the binary runs on any x86-64 node. */
#include "cpu_kernels.h"

#include <cblas.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_CLONES
#endif

/* 8 floats, any alignment, may alias the float arrays it is read from.
 * Accessed through macros, not functions: passing vectors by value across a
 * function boundary would depend on the clone's ABI. */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define v8_load(p) (*(const v8u *)(const void *)(p))
#define v8_store(p, v) (*(v8u *)(void *)(p) = (v))

static inline float relu6f(float x) { return x < 0.f ? 0.f : (x > 6.f ? 6.f : x); }

void cpu_same_pad(int in, int k, int stride, int *out, int *pad_before) {
    int o = (in + stride - 1) / stride;
    int total = (o - 1) * stride + k - in;
    if (total < 0) total = 0;
    *out = o;
    *pad_before = total / 2;
}

void cpu_stem_im2col(const uint8_t *pixels, int batch, int side, const float mean[3],
                     const float std[3], int k, int stride, float *cols, int threads) {
    int o, pad;
    cpu_same_pad(side, k, stride, &o, &pad);
    const int kc = k * k * 3;
    float lut[3][256]; /* (c, value) normalised pixel */
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v - mean[c]) / std[c];
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
    for (int b = 0; b < batch; b++) {
        for (int oy = 0; oy < o; oy++) {
            const uint8_t *img = pixels + (size_t)b * side * side * 3;
            float *row = cols + ((size_t)b * o + oy) * o * kc;
            for (int ox = 0; ox < o; ox++) {
                float *dst = row + (size_t)ox * kc;
                for (int ky = 0; ky < k; ky++) {
                    int iy = oy * stride - pad + ky;
                    for (int kx = 0; kx < k; kx++) {
                        int ix = ox * stride - pad + kx;
                        float *d = dst + (ky * k + kx) * 3;
                        if (iy < 0 || iy >= side || ix < 0 || ix >= side) {
                            d[0] = d[1] = d[2] = 0.f;
                        } else {
                            const uint8_t *p = img + ((size_t)iy * side + ix) * 3;
                            d[0] = lut[0][p[0]];
                            d[1] = lut[1][p[1]];
                            d[2] = lut[2][p[2]];
                        }
                    }
                }
            }
        }
    }
}

/* Before the GEMM: out[r, :] = bias (+ residual[r, :]) for rows [r0, r1). */
NN_CLONES
static void prefill_rows(float *out, size_t r0, size_t r1, int cout, const float *bias,
                         const float *residual) {
    for (size_t r = r0; r < r1; r++) {
        float *o = out + r * (size_t)cout;
        if (residual) {
            const float *res = residual + r * (size_t)cout;
#pragma omp simd
            for (int j = 0; j < cout; j++) o[j] = bias[j] + res[j];
        } else {
            memcpy(o, bias, (size_t)cout * sizeof *o);
        }
    }
}

/* After the GEMM: ReLU6 in place on rows [r0, r1). */
NN_CLONES
static void relu6_rows(float *out, size_t r0, size_t r1, int cout) {
    const size_t n = (r1 - r0) * (size_t)cout;
    float *o = out + r0 * (size_t)cout;
#pragma omp simd
    for (size_t i = 0; i < n; i++) o[i] = relu6f(o[i]);
}

/* Rows per tile in the single-thread path: the tile's output (~1 MiB, one
 * core's L2 here) stays in cache from the bias prefill through the GEMM to
 * the ReLU6. Smaller tiles (128 KiB) measured slower: OpenBLAS repacks the
 * weights on every call. */
static int tile_rows(int cout) {
    int r = (int)((1024 * 1024) / ((size_t)cout * sizeof(float)));
    return r < 32 ? 32 : r;
}

void cpu_conv1x1(const float *in, int rows, int cin, const float *weight, const float *bias,
                 int cout, enum cpu_act act, const float *residual, float *out, int threads) {
    /* The bias (and residual) are written first and the GEMM accumulates
     * onto them (beta = 1): no zeroing pass and no separate bias pass. */
    if (threads <= 1) {
        const int tr = tile_rows(cout);
        for (int r0 = 0; r0 < rows; r0 += tr) {
            int n = rows - r0 < tr ? rows - r0 : tr;
            prefill_rows(out, (size_t)r0, (size_t)r0 + n, cout, bias, residual);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, cout, cin, 1.0f,
                        in + (size_t)r0 * cin, cin, weight, cin, 1.0f,
                        out + (size_t)r0 * cout, cout);
            if (act == CPU_ACT_RELU6) relu6_rows(out, (size_t)r0, (size_t)r0 + n, cout);
        }
        return;
    }
    /* Layer-parallel: OpenMP passes around one OpenBLAS-threaded GEMM. */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; t++)
        prefill_rows(out, (size_t)rows * t / threads, (size_t)rows * (t + 1) / threads, cout,
                     bias, residual);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cout, cin, 1.0f, in, cin,
                weight, cin, 1.0f, out, cout);
    if (act == CPU_ACT_RELU6) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int t = 0; t < threads; t++)
            relu6_rows(out, (size_t)rows * t / threads, (size_t)rows * (t + 1) / threads, cout);
    }
}

/* One output row oy of a depthwise conv, all channels. rows[ky] is input
 * row oy * stride - pad_t + ky, (w, c); only those inside [0, h) are read.
 * quad: also compute four interior outputs per weight load in the 32-channel
 * tiles (16 accumulators + 4 weight vectors: only with AVX-512's 32
 * registers). Every output uses the same taps in the same order in all
 * paths, so quad does not change any bit. */
__attribute__((always_inline)) static inline void
depthwise_row_impl(const float *const *rows, int h, int w, int c, const float *wk,
                   const float *bias, int k, int stride, int pad_t, int pad_l, int oy, int ow,
                   enum cpu_act act, float *out_row, const int quad) {
    const int iy0 = oy * stride - pad_t;
    const int ky0 = iy0 < 0 ? -iy0 : 0;
    const int ky1 = iy0 + k > h ? h - iy0 : k;
    /* 32-channel tiles: 4 accumulators live in registers across all taps.
     * When c >= 32 is not a multiple of 32 the last tile starts at c - 32 and
     * overlaps the one before: the overlapped channels are computed twice
     * with the same taps in the same order, so they are written twice with
     * the same bits, and the tail costs one quad-capable tile instead of
     * single-output 8-channel tiles (Lite0's 144 and 240 channels). */
    const size_t xs = (size_t)stride * c; /* input step between neighbouring outputs */
    for (int t0 = 0; c >= 32 && t0 < c; t0 += 32) {
        const int c0 = t0 + 32 <= c ? t0 : c - 32;
        const v8f b0 = v8_load(bias + c0), b1 = v8_load(bias + c0 + 8);
        const v8f b2 = v8_load(bias + c0 + 16), b3 = v8_load(bias + c0 + 24);
        for (int ox = 0; ox < ow; ox++) {
            const int ix0 = ox * stride - pad_l;
            const int kx0 = ix0 < 0 ? -ix0 : 0;
            const int kx1 = ix0 + k > w ? w - ix0 : k;
            if (quad && kx0 == 0 && ox + 3 < ow && ix0 + 3 * stride + k <= w) {
                v8f a[4][4];
                for (int o = 0; o < 4; o++) {
                    a[o][0] = b0;
                    a[o][1] = b1;
                    a[o][2] = b2;
                    a[o][3] = b3;
                }
                for (int ky = ky0; ky < ky1; ky++) {
                    const float *ip = rows[ky] + (size_t)ix0 * c + c0;
                    const float *wp = wk + (size_t)ky * k * c + c0;
                    for (int kx = 0; kx < k; kx++) {
                        const float *x = ip + (size_t)kx * c, *wt = wp + (size_t)kx * c;
                        const v8f w0 = v8_load(wt), w1 = v8_load(wt + 8);
                        const v8f w2 = v8_load(wt + 16), w3 = v8_load(wt + 24);
#pragma GCC unroll 4
                        for (int o = 0; o < 4; o++) {
                            const float *y = x + (size_t)o * xs;
                            a[o][0] += v8_load(y) * w0;
                            a[o][1] += v8_load(y + 8) * w1;
                            a[o][2] += v8_load(y + 16) * w2;
                            a[o][3] += v8_load(y + 24) * w3;
                        }
                    }
                }
#pragma GCC unroll 4
                for (int o = 0; o < 4; o++) {
                    float *op = out_row + (size_t)(ox + o) * c + c0;
                    v8_store(op, a[o][0]);
                    v8_store(op + 8, a[o][1]);
                    v8_store(op + 16, a[o][2]);
                    v8_store(op + 24, a[o][3]);
                }
                ox += 3;
                continue;
            }
            if (kx0 == 0 && ox + 1 < ow && ix0 + stride + k <= w) {
                /* Two interior outputs (ox, ox + 1) share each weight load:
                 * 12 loads per 8 FMAs instead of 16. Same taps in the same
                 * order as the single-output path, so the same bits. */
                v8f a0 = b0, a1 = b1, a2 = b2, a3 = b3;
                v8f e0 = b0, e1 = b1, e2 = b2, e3 = b3;
                for (int ky = ky0; ky < ky1; ky++) {
                    const float *ip = rows[ky] + (size_t)ix0 * c + c0;
                    const float *wp = wk + (size_t)ky * k * c + c0;
                    for (int kx = 0; kx < k; kx++) {
                        const float *x = ip + (size_t)kx * c, *wt = wp + (size_t)kx * c;
                        const float *y = x + xs;
                        const v8f w0 = v8_load(wt), w1 = v8_load(wt + 8);
                        const v8f w2 = v8_load(wt + 16), w3 = v8_load(wt + 24);
                        a0 += v8_load(x) * w0;
                        a1 += v8_load(x + 8) * w1;
                        a2 += v8_load(x + 16) * w2;
                        a3 += v8_load(x + 24) * w3;
                        e0 += v8_load(y) * w0;
                        e1 += v8_load(y + 8) * w1;
                        e2 += v8_load(y + 16) * w2;
                        e3 += v8_load(y + 24) * w3;
                    }
                }
                float *o = out_row + (size_t)ox * c + c0;
                v8_store(o, a0);
                v8_store(o + 8, a1);
                v8_store(o + 16, a2);
                v8_store(o + 24, a3);
                o += c;
                v8_store(o, e0);
                v8_store(o + 8, e1);
                v8_store(o + 16, e2);
                v8_store(o + 24, e3);
                ox++;
                continue;
            }
            v8f a0 = b0, a1 = b1, a2 = b2, a3 = b3;
            for (int ky = ky0; ky < ky1; ky++) {
                const float *ip = rows[ky] + (size_t)ix0 * c + c0;
                const float *wp = wk + (size_t)ky * k * c + c0;
                for (int kx = kx0; kx < kx1; kx++) {
                    const float *x = ip + (size_t)kx * c, *wt = wp + (size_t)kx * c;
                    a0 += v8_load(x) * v8_load(wt);
                    a1 += v8_load(x + 8) * v8_load(wt + 8);
                    a2 += v8_load(x + 16) * v8_load(wt + 16);
                    a3 += v8_load(x + 24) * v8_load(wt + 24);
                }
            }
            float *o = out_row + (size_t)ox * c + c0;
            v8_store(o, a0);
            v8_store(o + 8, a1);
            v8_store(o + 16, a2);
            v8_store(o + 24, a3);
        }
    }
    /* Fewer than 32 channels: 8-channel tiles, then single channels. */
    int c0 = c >= 32 ? c : 0;
    for (; c0 + 8 <= c; c0 += 8) {
        const v8f b0 = v8_load(bias + c0);
        for (int ox = 0; ox < ow; ox++) {
            const int ix0 = ox * stride - pad_l;
            const int kx0 = ix0 < 0 ? -ix0 : 0;
            const int kx1 = ix0 + k > w ? w - ix0 : k;
            v8f a0 = b0;
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++)
                    a0 += v8_load(rows[ky] + (size_t)(ix0 + kx) * c + c0) *
                          v8_load(wk + ((size_t)ky * k + kx) * c + c0);
            v8_store(out_row + (size_t)ox * c + c0, a0);
        }
    }
    for (; c0 < c; c0++) {
        for (int ox = 0; ox < ow; ox++) {
            const int ix0 = ox * stride - pad_l;
            const int kx0 = ix0 < 0 ? -ix0 : 0;
            const int kx1 = ix0 + k > w ? w - ix0 : k;
            float a = bias[c0];
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++)
                    a += rows[ky][(size_t)(ix0 + kx) * c + c0] *
                         wk[((size_t)ky * k + kx) * c + c0];
            out_row[(size_t)ox * c + c0] = a;
        }
    }
    if (act == CPU_ACT_RELU6) {
        const size_t n = (size_t)ow * c;
#pragma omp simd
        for (size_t i = 0; i < n; i++) out_row[i] = relu6f(out_row[i]);
    }
}

NN_CLONES
static void depthwise_row(const float *const *rows, int h, int w, int c, const float *wk,
                          const float *bias, int k, int stride, int pad_t, int pad_l, int oy,
                          int ow, enum cpu_act act, float *out_row) {
    depthwise_row_impl(rows, h, w, c, wk, bias, k, stride, pad_t, pad_l, oy, ow, act, out_row, 0);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("arch=x86-64-v4")))
static void depthwise_row_v4(const float *const *rows, int h, int w, int c, const float *wk,
                             const float *bias, int k, int stride, int pad_t, int pad_l, int oy,
                             int ow, enum cpu_act act, float *out_row) {
    depthwise_row_impl(rows, h, w, c, wk, bias, k, stride, pad_t, pad_l, oy, ow, act, out_row, 1);
}
#define DW_ROW(...) (dw_quad ? depthwise_row_v4(__VA_ARGS__) : depthwise_row(__VA_ARGS__))
#define DW_QUAD() __builtin_cpu_supports("x86-64-v4")
#else
#define DW_ROW(...) depthwise_row(__VA_ARGS__)
#define DW_QUAD() 0
#endif

void cpu_depthwise(const float *in, int batch, int h, int w, int c, const float *weight_kkc,
                   const float *bias, int k, int stride, enum cpu_act act, float *out,
                   int threads) {
    int oh, ow, pad_t, pad_l;
    cpu_same_pad(h, k, stride, &oh, &pad_t);
    cpu_same_pad(w, k, stride, &ow, &pad_l);
    const int tasks = batch * oh;
    const int dw_quad = DW_QUAD();
    (void)dw_quad;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < tasks; t++) {
        int b = t / oh, oy = t % oh, iy0 = oy * stride - pad_t;
        const float *rows[CPU_DW_KMAX];
        for (int ky = 0; ky < k; ky++) {
            int iy = iy0 + ky;
            rows[ky] = iy >= 0 && iy < h ? in + ((size_t)b * h + iy) * w * c : NULL;
        }
        DW_ROW(rows, h, w, c, weight_kkc, bias, k, stride, pad_t, pad_l, oy, ow, act,
               out + ((size_t)b * oh + oy) * ow * c);
    }
}

void cpu_depthwise_row(const float *const *rows, int h, int w, int c, const float *weight_kkc,
                       const float *bias, int k, int stride, int oy, enum cpu_act act,
                       float *out_row) {
    int oh, ow, pad_t, pad_l;
    cpu_same_pad(h, k, stride, &oh, &pad_t);
    cpu_same_pad(w, k, stride, &ow, &pad_l);
    const int dw_quad = DW_QUAD();
    (void)dw_quad;
    DW_ROW(rows, h, w, c, weight_kkc, bias, k, stride, pad_t, pad_l, oy, ow, act, out_row);
}

NN_CLONES
static void avgpool_one(const float *in, int hw, int c, float *out) {
    for (int j = 0; j < c; j++) out[j] = 0.f;
    for (int p = 0; p < hw; p++) {
        const float *x = in + (size_t)p * c;
#pragma omp simd
        for (int j = 0; j < c; j++) out[j] += x[j];
    }
    const float inv = 1.0f / (float)hw;
#pragma omp simd
    for (int j = 0; j < c; j++) out[j] *= inv;
}

void cpu_avgpool(const float *in, int batch, int hw, int c, float *out, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < batch; b++)
        avgpool_one(in + (size_t)b * hw * c, hw, c, out + (size_t)b * c);
}

/* ---- Packed 1x1 convolution: our own AVX-512 GEMM ------------------------
 *
 * OpenBLAS repacks the weights (B) and the activations (A) on every call and
 * the bias / ReLU6 need passes of their own; on Lite0's shapes that was ~20%
 * of the forward pass (docs/nn.md). Here the weights are packed once, in
 * panels of 32, 16 or 8 output channels, each (cin, width) row-major, and a
 * 12-row x 32-column register tile accumulates
 *     acc = bias; for k in 0..cin-1: acc += in[r, k] * w[k, n]
 * (A read in place, one broadcast per k), then adds the residual, clamps
 * (ReLU6) and stores once. Every output element is computed in that order
 * whatever the tile it lands in, so results do not depend on the row count,
 * the row's position or the thread split. */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NN_HAVE_GEMM 1
#include <immintrin.h>
#define NN_V4 __attribute__((target("arch=x86-64-v4")))
#define NN_V4_INLINE __attribute__((target("arch=x86-64-v4"), always_inline)) static inline
typedef float v16f __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
#define v16_load(p) (*(const v16u *)(const void *)(p))
#define v16_store(p, v) (*(v16u *)(void *)(p) = (v))
#define GEMM_MR 12 /* rows per register tile: 12 x 2 zmm accumulators + 2 weight vectors */
#else
#define NN_HAVE_GEMM 0
#endif

/* Width of the panel that starts at output channel n0. */
static int gemm_panel_width(int cout, int n0) {
    int left = cout - n0;
    return left >= 32 ? 32 : left >= 16 ? 16 : 8;
}

int cpu_gemm_available(int cout) {
#if NN_HAVE_GEMM
    return cout > 0 && __builtin_cpu_supports("x86-64-v4");
#else
    (void)cout;
    return 0;
#endif
}

size_t cpu_conv1x1_pack_count(int cout, int cin) {
    return (size_t)((cout + 7) / 8 * 8) * cin;
}

void cpu_conv1x1_pack(const float *weight, int cout, int cin, float *packed) {
    for (int n0 = 0; n0 < cout; ) {
        const int nw = gemm_panel_width(cout, n0);
        float *p = packed + (size_t)n0 * cin; /* panel (cin, nw) */
        for (int k = 0; k < cin; k++)
            for (int j = 0; j < nw; j++)
                p[(size_t)k * nw + j] = n0 + j < cout ? weight[(size_t)(n0 + j) * cin + k] : 0.f;
        n0 += nw;
    }
}

#if NN_HAVE_GEMM
/* One register tile: MR rows (a compile-time constant after inlining) x the
 * 32-, 16- or 8-wide panel wp (cin, NW). */
#define GEMM_TILE(NAME, VT, VLOAD, VLOADB, VSTORE, VMAX, VMIN, VZERO, VSET1, NV, NW)           \
    NN_V4_INLINE void NAME(const int MR, const float *a, size_t lda, int cin, const float *wp,  \
                           const float *bias, const float *res, float *out, size_t ldo,       \
                           int relu, unsigned mask) {                                           \
        (void)mask;                                                                             \
        VT acc[GEMM_MR][NV];                                                                    \
        _Pragma("GCC unroll 12") for (int r = 0; r < MR; r++)                                   \
            _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[r][v] =                    \
                VLOADB(bias + 16 * v);                                                           \
        for (int k = 0; k < cin; k++) {                                                         \
            VT w[NV];                                                                           \
            _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) w[v] =                         \
                VLOAD(wp + (size_t)k * NW + 16 * v);                                             \
            _Pragma("GCC unroll 12") for (int r = 0; r < MR; r++) {                             \
                const float x = a[(size_t)r * lda + k];                                         \
                _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[r][v] += x * w[v];     \
            }                                                                                   \
        }                                                                                       \
        _Pragma("GCC unroll 12") for (int r = 0; r < MR; r++)                                   \
            _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) {                              \
                VT y = acc[r][v];                                                               \
                if (res) y += VLOADB(res + (size_t)r * ldo + 16 * v);                           \
                if (relu) y = VMIN(VMAX(y, VZERO()), VSET1(6.f));                               \
                VSTORE(out + (size_t)r * ldo + 16 * v, y);                                      \
            }                                                                                   \
    }
/* The last panel of a cout that is not a multiple of 8 holds zero weights
 * past cout; its bias, residual and output are read and written masked. */
#define v8_load_m(p) _mm256_maskz_loadu_ps((__mmask8)mask, (p))
#define v8_store_m(p, v) _mm256_mask_storeu_ps((p), (__mmask8)mask, (v))
GEMM_TILE(gemm_tile32, v16f, v16_load, v16_load, v16_store, _mm512_max_ps, _mm512_min_ps,
          _mm512_setzero_ps, _mm512_set1_ps, 2, 32)
GEMM_TILE(gemm_tile16, v16f, v16_load, v16_load, v16_store, _mm512_max_ps, _mm512_min_ps,
          _mm512_setzero_ps, _mm512_set1_ps, 1, 16)
GEMM_TILE(gemm_tile8, v8f, v8_load, v8_load, v8_store, _mm256_max_ps, _mm256_min_ps,
          _mm256_setzero_ps, _mm256_set1_ps, 1, 8)
GEMM_TILE(gemm_tile8m, v8f, v8_load, v8_load_m, v8_store_m, _mm256_max_ps, _mm256_min_ps,
          _mm256_setzero_ps, _mm256_set1_ps, 1, 8)

/* Dispatches a tile of mr (1..GEMM_MR) rows to the instance compiled for it. */
#define GEMM_CASES(F, ...)                                                                     \
    switch (mr) {                                                                              \
    case 12: F(12, __VA_ARGS__); break; case 11: F(11, __VA_ARGS__); break;                    \
    case 10: F(10, __VA_ARGS__); break; case 9: F(9, __VA_ARGS__); break;                      \
    case 8: F(8, __VA_ARGS__); break; case 7: F(7, __VA_ARGS__); break;                        \
    case 6: F(6, __VA_ARGS__); break; case 5: F(5, __VA_ARGS__); break;                        \
    case 4: F(4, __VA_ARGS__); break; case 3: F(3, __VA_ARGS__); break;                        \
    case 2: F(2, __VA_ARGS__); break; default: F(1, __VA_ARGS__); break;                       \
    }

NN_V4
static void gemm_rows(const float *in, int r0, int r1, int cin, const float *packed,
                      const float *bias, int cout, int relu, const float *residual, float *out) {
    /* Column blocks whose packed weights (cin x nb floats) stay in L2 (1 MiB
     * per core here) while every row tile of [r0, r1) passes over them. */
    int nb = (int)((384 * 1024) / ((size_t)cin * sizeof(float))) & ~31;
    if (nb < 32) nb = 32;
    for (int c0 = 0; c0 < cout; c0 += nb) {
        const int c1 = cout - c0 < nb ? cout : c0 + nb;
        for (int m0 = r0; m0 < r1; m0 += GEMM_MR) {
            const int mr = r1 - m0 < GEMM_MR ? r1 - m0 : GEMM_MR;
            const float *a = in + (size_t)m0 * cin;
            const float *res = residual ? residual + (size_t)m0 * cout : NULL;
            float *o = out + (size_t)m0 * cout;
            for (int n0 = c0; n0 < c1;) {
                const int nw = gemm_panel_width(cout, n0);
                const float *wp = packed + (size_t)n0 * cin;
                const float *rn = res ? res + n0 : NULL;
#define GEMM_CALL(MR, fn) fn(MR, a, cin, cin, wp, bias + n0, rn, o + n0, cout, relu, mask)
                const unsigned mask = cout - n0 >= 8 ? 0xffu : (1u << (cout - n0)) - 1u;
                if (nw == 32) {
                    GEMM_CASES(GEMM_CALL, gemm_tile32)
                } else if (nw == 16) {
                    GEMM_CASES(GEMM_CALL, gemm_tile16)
                } else if (mask == 0xffu) {
                    GEMM_CASES(GEMM_CALL, gemm_tile8)
                } else {
                    GEMM_CASES(GEMM_CALL, gemm_tile8m)
                }
#undef GEMM_CALL
                n0 += nw;
            }
        }
    }
}
#endif

void cpu_conv1x1_packed(const float *in, int rows, int cin, const float *packed,
                        const float *bias, int cout, enum cpu_act act, const float *residual,
                        float *out, int threads) {
#if NN_HAVE_GEMM
    const int relu = act == CPU_ACT_RELU6;
    if (threads <= 1) {
        gemm_rows(in, 0, rows, cin, packed, bias, cout, relu, residual, out);
        return;
    }
    /* Whole row tiles per thread, so the split does not change any tile. */
    const int tiles = (rows + GEMM_MR - 1) / GEMM_MR;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; t++) {
        int r0 = (int)((long)tiles * t / threads) * GEMM_MR;
        int r1 = (int)((long)tiles * (t + 1) / threads) * GEMM_MR;
        if (r1 > rows) r1 = rows;
        if (r0 < r1) gemm_rows(in, r0, r1, cin, packed, bias, cout, relu, residual, out);
    }
#else
    (void)in; (void)rows; (void)cin; (void)packed; (void)bias; (void)cout; (void)act;
    (void)residual; (void)out; (void)threads;
#endif
}
