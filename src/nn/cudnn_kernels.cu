/* cudnn_kernels.cu - the GPU backbone's own kernels (contracts in
 * cudnn_kernels.h). Simple, one output element per thread, channels
 * innermost so that a warp reads 32 consecutive channels (coalesced in
 * NHWC). Written for correctness first; docs/gpu.md lists what the GPU
 * session should measure before tuning. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "nn/cudnn_kernels.h"

namespace {

template <typename T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) {
    return __bfloat162float(v);
}

template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

__device__ __forceinline__ float relu6(float v) { return fminf(fmaxf(v, 0.0f), 6.0f); }

/* Grid for a grid-stride loop over n elements: enough blocks to fill the
 * GPU several times over, capped so the count fits an int. */
constexpr int kThreads = 256;
inline unsigned grid_for(size_t n) {
    size_t g = (n + kThreads - 1) / kThreads;
    if (g > 65535u * 8u) g = 65535u * 8u;
    return g < 1 ? 1u : (unsigned)g;
}

#define GRID_STRIDE(i, n)                                                              \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (size_t)gridDim.x * blockDim.x)

struct stem_norm {
    float mean[3], std[3];
};

template <typename T>
__global__ void stem_kernel(const uint8_t *__restrict__ px, int batch, int side, stem_norm nrm,
                            const float *__restrict__ w, const float *__restrict__ bias, int cout,
                            int k, int stride, int pad, int os, T *__restrict__ out) {
    const size_t n = (size_t)batch * os * os * cout;
    GRID_STRIDE(i, n) {
        const int co = (int)(i % cout);
        size_t r = i / cout;
        const int ox = (int)(r % os);
        r /= os;
        const int oy = (int)(r % os);
        const int b = (int)(r / os);
        float acc = 0.0f;
        const int iy0 = oy * stride - pad, ix0 = ox * stride - pad;
        for (int ky = 0; ky < k; ky++) {
            const int iy = iy0 + ky;
            if (iy < 0 || iy >= side) continue;
            for (int kx = 0; kx < k; kx++) {
                const int ix = ix0 + kx;
                if (ix < 0 || ix >= side) continue;
                const uint8_t *p = px + (((size_t)b * side + iy) * side + ix) * 3;
                const float *wk = w + (((size_t)co * k + ky) * k + kx) * 3;
                /* Same formula as the CPU's lookup table: (v - mean) / std in float. */
                acc += ((float)p[0] - nrm.mean[0]) / nrm.std[0] * wk[0];
                acc += ((float)p[1] - nrm.mean[1]) / nrm.std[1] * wk[1];
                acc += ((float)p[2] - nrm.mean[2]) / nrm.std[2] * wk[2];
            }
        }
        out[i] = from_f<T>(relu6(acc + bias[co]));
    }
}

template <typename T>
__global__ void depthwise_kernel(const T *__restrict__ x, int batch, int h, int w, int c,
                                 const float *__restrict__ wk, const float *__restrict__ bias,
                                 int k, int stride, int pt, int pl, int oh, int ow,
                                 T *__restrict__ y) {
    const size_t n = (size_t)batch * oh * ow * c;
    GRID_STRIDE(i, n) {
        const int ch = (int)(i % c);
        size_t r = i / c;
        const int ox = (int)(r % ow);
        r /= ow;
        const int oy = (int)(r % oh);
        const int b = (int)(r / oh);
        const int iy0 = oy * stride - pt, ix0 = ox * stride - pl;
        float acc = 0.0f;
        for (int ky = 0; ky < k; ky++) {
            const int iy = iy0 + ky;
            if (iy < 0 || iy >= h) continue;
            const T *row = x + ((size_t)b * h + iy) * w * c + ch;
            for (int kx = 0; kx < k; kx++) {
                const int ix = ix0 + kx;
                if (ix < 0 || ix >= w) continue;
                acc += to_f(row[(size_t)ix * c]) * wk[(ky * k + kx) * c + ch];
            }
        }
        y[i] = from_f<T>(relu6(acc + bias[ch]));
    }
}

template <typename T>
__global__ void bias_act_kernel(T *__restrict__ y, const T *__restrict__ res,
                                const float *__restrict__ bias, size_t n, int c, int act) {
    GRID_STRIDE(i, n) {
        float v = to_f(y[i]) + bias[i % c];
        if (res) v += to_f(res[i]);
        y[i] = from_f<T>(act ? relu6(v) : v);
    }
}

template <typename T>
__global__ void pad_kernel(const T *__restrict__ x, int batch, int h, int w, int c, int top,
                           int left, int ph, int pw, T *__restrict__ xp) {
    const size_t n = (size_t)batch * ph * pw * c;
    GRID_STRIDE(i, n) {
        const int ch = (int)(i % c);
        size_t r = i / c;
        const int px = (int)(r % pw);
        r /= pw;
        const int py = (int)(r % ph);
        const int b = (int)(r / ph);
        const int iy = py - top, ix = px - left;
        xp[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w)
                    ? x[(((size_t)b * h + iy) * w + ix) * c + ch]
                    : from_f<T>(0.0f);
    }
}

template <typename T>
__global__ void pool_kernel(const T *__restrict__ y, const float *__restrict__ bias, int batch,
                            int hw, int c, float *__restrict__ feats) {
    const size_t n = (size_t)batch * c;
    GRID_STRIDE(i, n) {
        const int ch = (int)(i % c);
        const int b = (int)(i / c);
        const T *p = y + (size_t)b * hw * c + ch;
        const float bi = bias[ch];
        float s = 0.0f;
        for (int q = 0; q < hw; q++) s += relu6(to_f(p[(size_t)q * c]) + bi);
        feats[i] = s * (1.0f / (float)hw);
    }
}

__global__ void fill_rows_kernel(float *__restrict__ out, const float *__restrict__ bias,
                                 size_t n, int cols) {
    GRID_STRIDE(i, n) out[i] = bias[i % cols];
}

template <typename T>
__global__ void convert_kernel(const float *__restrict__ src, T *__restrict__ dst, size_t n) {
    GRID_STRIDE(i, n) dst[i] = from_f<T>(src[i]);
}

} // namespace

/* One switch per launcher: the storage type picks the instantiation. */
#define GK_DISPATCH(t, KERNEL_CALL)                                                    \
    do {                                                                               \
        switch (t) {                                                                   \
        case GK_F32: { typedef float T_; KERNEL_CALL; break; }                         \
        case GK_F16: { typedef __half T_; KERNEL_CALL; break; }                        \
        case GK_BF16: { typedef __nv_bfloat16 T_; KERNEL_CALL; break; }                \
        default: return cudaErrorInvalidValue;                                         \
        }                                                                              \
        return cudaGetLastError();                                                     \
    } while (0)

size_t gk_dtype_bytes(enum gk_dtype t) { return t == GK_F32 ? 4 : 2; }

cudaError_t gk_stem(enum gk_dtype t, const uint8_t *pixels, int batch, int side,
                    const float mean[3], const float std[3], const float *w, const float *bias,
                    int cout, int k, int stride, int pad_before, int out_side, void *out,
                    cudaStream_t stream) {
    stem_norm nrm;
    for (int c = 0; c < 3; c++) nrm.mean[c] = mean[c], nrm.std[c] = std[c];
    const size_t n = (size_t)batch * out_side * out_side * cout;
    GK_DISPATCH(t, (stem_kernel<T_><<<grid_for(n), kThreads, 0, stream>>>(
                       pixels, batch, side, nrm, w, bias, cout, k, stride, pad_before, out_side,
                       (T_ *)out)));
}

cudaError_t gk_depthwise(enum gk_dtype t, const void *x, int batch, int h, int w, int c,
                         const float *w_kkc, const float *bias, int k, int stride, int pad_top,
                         int pad_left, int oh, int ow, void *y, cudaStream_t stream) {
    const size_t n = (size_t)batch * oh * ow * c;
    GK_DISPATCH(t, (depthwise_kernel<T_><<<grid_for(n), kThreads, 0, stream>>>(
                       (const T_ *)x, batch, h, w, c, w_kkc, bias, k, stride, pad_top, pad_left,
                       oh, ow, (T_ *)y)));
}

cudaError_t gk_bias_act(enum gk_dtype t, void *y, const void *res, const float *bias,
                        size_t rows, int c, int relu6, cudaStream_t stream) {
    const size_t n = rows * (size_t)c;
    GK_DISPATCH(t, (bias_act_kernel<T_><<<grid_for(n), kThreads, 0, stream>>>(
                       (T_ *)y, (const T_ *)res, bias, n, c, relu6)));
}

cudaError_t gk_pad(enum gk_dtype t, const void *x, int batch, int h, int w, int c, int top,
                   int left, int ph, int pw, void *xp, cudaStream_t stream) {
    const size_t n = (size_t)batch * ph * pw * c;
    GK_DISPATCH(t, (pad_kernel<T_><<<grid_for(n), kThreads, 0, stream>>>(
                       (const T_ *)x, batch, h, w, c, top, left, ph, pw, (T_ *)xp)));
}

cudaError_t gk_bias_relu6_pool(enum gk_dtype t, const void *y, const float *bias, int batch,
                               int hw, int c, float *feats, cudaStream_t stream) {
    const size_t n = (size_t)batch * c;
    GK_DISPATCH(t, (pool_kernel<T_><<<grid_for(n), kThreads, 0, stream>>>(
                       (const T_ *)y, bias, batch, hw, c, feats)));
}

cudaError_t gk_fill_rows(float *out, const float *bias, int rows, int n, cudaStream_t stream) {
    const size_t total = (size_t)rows * n;
    fill_rows_kernel<<<grid_for(total), kThreads, 0, stream>>>(out, bias, total, n);
    return cudaGetLastError();
}

cudaError_t gk_convert(enum gk_dtype t, const float *src, void *dst, size_t n,
                       cudaStream_t stream) {
    GK_DISPATCH(t, (convert_kernel<T_><<<grid_for(n), kThreads, 0, stream>>>(src, (T_ *)dst, n)));
}
