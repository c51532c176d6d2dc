/* cpu_kernels.h - the CPU primitives of the EfficientNet-Lite forward pass.
 *
 * All activations are NHWC float32. Every convolution uses TensorFlow "SAME"
 * padding (cpu_same_pad). Functions that take `threads` run OpenMP regions of
 * that many threads, or OpenBLAS calls (after openblas_set_num_threads by the
 * caller), never one inside the other. They do not fail: shapes are the
 * caller's contract.
 */
#ifndef ASSORT_NN_CPU_KERNELS_H
#define ASSORT_NN_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum cpu_act { CPU_ACT_NONE = 0, CPU_ACT_RELU6 = 1 };

/* TF SAME padding along one axis: *out = ceil(in / stride),
 * pad_total = max((out - 1) * stride + k - in, 0), *pad_before = pad_total / 2
 * (the extra pixel, if any, goes after). */
void cpu_same_pad(int in, int k, int stride, int *out, int *pad_before);

/* Stem input: normalises uint8 RGB pixels ((p - mean[c]) / std[c]) and lays
 * out the KxK/stride SAME patches as rows for a GEMM, zeros where the patch
 * leaves the image (the padding is applied to the normalised input, as TF).
 *   pixels (batch, side, side, 3) uint8
 *   cols   (batch * oh * ow, k * k * 3), column order (ky, kx, c) = OHWI's HWI */
void cpu_stem_im2col(const uint8_t *pixels, int batch, int side, const float mean[3],
                     const float std[3], int k, int stride, float *cols, int threads);

/* 1x1 convolution (or any row GEMM) on NHWC rows:
 *   out (rows, cout) = act(in (rows, cin) x weight (cout, cin)^T + bias (cout)
 *                          [+ residual (rows, cout)])
 * (Lite blocks only add a residual after a linear projection, act NONE.)
 * threads <= 1: M-tiled single-threaded sgemm calls, each tile's bias,
 * GEMM and ReLU6 done while it is in cache. threads > 1: one sgemm on the
 * OpenBLAS threads (set by the caller) between OpenMP passes. */
void cpu_conv1x1(const float *in, int rows, int cin, const float *weight, const float *bias,
                 int cout, enum cpu_act act, const float *residual, float *out, int threads);

/* Whether cpu_conv1x1_packed runs here: this CPU has AVX-512 (x86-64-v4)
 * and the compiler is GCC on x86-64 (cout > 0). Otherwise use cpu_conv1x1
 * (OpenBLAS). */
int cpu_gemm_available(int cout);

/* Floats of cpu_conv1x1_pack's output: cin * (cout rounded up to 8). */
size_t cpu_conv1x1_pack_count(int cout, int cin);

/* Repacks a 1x1 convolution's weight (cout, cin) for cpu_conv1x1_packed into
 * packed (cpu_conv1x1_pack_count floats, caller-owned): panels of 32, then
 * 16, then 8 output channels, each (cin, width) row-major; the last panel is
 * zero past cout. */
void cpu_conv1x1_pack(const float *weight, int cout, int cin, float *packed);

/* cpu_conv1x1 with weights from cpu_conv1x1_pack, on our own register-tiled
 * GEMM (only where cpu_gemm_available(cout)): bias, residual and ReLU6 are
 * applied while the tile is in registers; no BLAS call. threads > 1 splits
 * the rows over an OpenMP region. Every output element is computed in the
 * same order whatever the row count or thread split. */
void cpu_conv1x1_packed(const float *in, int rows, int cin, const float *packed,
                        const float *bias, int cout, enum cpu_act act, const float *residual,
                        float *out, int threads);

/* Largest depthwise kernel side (Lite uses 3 and 5). */
#define CPU_DW_KMAX 7

/* Depthwise KxK convolution (k <= CPU_DW_KMAX) with stride 1 or 2 and SAME
 * padding, + bias, then `act`. weight_kkc is (k, k, c) (channel fastest, repacked from the file's
 * (c, k, k, 1)).
 *   in  (batch, h, w, c)     out (batch, oh, ow, c), oh = ceil(h / stride) */
void cpu_depthwise(const float *in, int batch, int h, int w, int c, const float *weight_kkc,
                   const float *bias, int k, int stride, enum cpu_act act, float *out,
                   int threads);

/* One output row oy of cpu_depthwise (same arithmetic, same bits) on input
 * rows given one by one, so they may live in a ring buffer: rows[ky] (w, c)
 * is input row oy * stride - pad_top + ky; entries outside [0, h) are not
 * read (may be NULL). out_row (ow, c). */
void cpu_depthwise_row(const float *const *rows, int h, int w, int c, const float *weight_kkc,
                       const float *bias, int k, int stride, int oy, enum cpu_act act,
                       float *out_row);

/* Global average pool: out (batch, c) = mean over hw of in (batch, hw, c). */
void cpu_avgpool(const float *in, int batch, int hw, int c, float *out, int threads);

#endif
