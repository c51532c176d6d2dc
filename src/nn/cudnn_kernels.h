/* cudnn_kernels.h - the small CUDA kernels beside cuDNN in the GPU backbone:
 * the fused stem, the own depthwise convolution, bias/residual/ReLU6
 * epilogues, explicit SAME padding, pooling, conversions.
 *
 * Activations are NHWC in the backbone's storage type (gk_dtype); every
 * kernel accumulates in float. Each launcher enqueues on `stream` and
 * returns the launch's cudaError_t (execution errors surface at the next
 * synchronisation). CUDA C++ only (included by .cu files). */
#ifndef ASSORT_NN_CUDNN_KERNELS_H
#define ASSORT_NN_CUDNN_KERNELS_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

enum gk_dtype { GK_F32 = 0, GK_F16 = 1, GK_BF16 = 2 };

/* Bytes of one element of `t`. */
size_t gk_dtype_bytes(enum gk_dtype t);

/* Stem: uint8 pixels (batch, side, side, 3) -> normalised (p - mean[c]) /
 * std[c] -> KxK/stride conv with TF SAME padding (pad_before top/left, the
 * rest after; padding is 0 in normalised space) + bias + ReLU6 ->
 * out (batch, out_side, out_side, cout) of type t.
 * w (cout, k, k, 3) fp32 OHWI, bias (cout) fp32, both device memory. */
cudaError_t gk_stem(enum gk_dtype t, const uint8_t *pixels, int batch, int side,
                    const float mean[3], const float std[3], const float *w, const float *bias,
                    int cout, int k, int stride, int pad_before, int out_side, void *out,
                    cudaStream_t stream);

/* Depthwise KxK/stride, TF SAME padding (pad_top/left before, the rest
 * after, handled by bounds, no padded copy) + bias + ReLU6:
 * x (batch, h, w, c) -> y (batch, oh, ow, c); w_kkc (k, k, c) fp32. */
cudaError_t gk_depthwise(enum gk_dtype t, const void *x, int batch, int h, int w, int c,
                         const float *w_kkc, const float *bias, int k, int stride, int pad_top,
                         int pad_left, int oh, int ow, void *y, cudaStream_t stream);

/* In place over y (rows, c): y = act(y + bias[col] [+ res]); act ReLU6 when
 * relu6 != 0, else identity. res (rows, c) or NULL. */
cudaError_t gk_bias_act(enum gk_dtype t, void *y, const void *res, const float *bias,
                        size_t rows, int c, int relu6, cudaStream_t stream);

/* Zero padding: x (batch, h, w, c) -> xp (batch, ph, pw, c) with x placed
 * at (top, left); everything else 0. */
cudaError_t gk_pad(enum gk_dtype t, const void *x, int batch, int h, int w, int c, int top,
                   int left, int ph, int pw, void *xp, cudaStream_t stream);

/* Head epilogue + global average pool: feats[b][c] = mean over hw of
 * ReLU6(y[b][p][c] + bias[c]); y (batch, hw, c) type t, feats fp32. */
cudaError_t gk_bias_relu6_pool(enum gk_dtype t, const void *y, const float *bias, int batch,
                               int hw, int c, float *feats, cudaStream_t stream);

/* out (rows, n) fp32 = bias (n) broadcast over rows. */
cudaError_t gk_fill_rows(float *out, const float *bias, int rows, int n, cudaStream_t stream);

/* dst (n) of type t = src (n) fp32 (round to nearest). */
cudaError_t gk_convert(enum gk_dtype t, const float *src, void *dst, size_t n,
                       cudaStream_t stream);

#endif
