/* cudnn_backend.cu - the GPU backend of the backbone (table backbone_cudnn_ops,
 * registered in backbone.c): the same EfficientNet-Lite forward pass as
 * cpu_backend.c, on one GPU.
 *
 * Layout NHWC throughout; storage type fp32, fp16 or bf16 (opts->precision),
 * always with fp32 accumulation (cuDNN compute type FLOAT; tensor cores for
 * fp16/bf16, plain FMA for fp32 so that fp32 matches the CPU to ~1e-5).
 *   stem       own kernel: uint8 -> normalise -> 3x3/2 SAME conv + bias + ReLU6
 *   1x1 convs  cuDNN (legacy cudnnConvolutionForward, NHWC filters = the file's
 *              OHWI), then one epilogue kernel: + bias [+ residual] [ReLU6]
 *              (cuDNN's fused bias+activation has no ReLU6 / clipped ReLU)
 *   depthwise  own kernel (SAME padding by bounds, bias + ReLU6 fused) or cuDNN
 *              grouped conv (ASSORT_GPU_DEPTHWISE=cudnn): symmetric padding is
 *              given to cuDNN, TF's asymmetric stride-2 padding is made by an
 *              explicit pad kernel first
 *   head       cuDNN 1x1 conv, then bias + ReLU6 + global average pool in one
 *              kernel -> fp32 features
 *   classifier cuBLAS sgemm (fp32) onto bias-filled rows
 * The algorithm of each convolution is chosen once per (layer, batch) shape
 * (cudnnFind by default, or cuDNN's heuristics with ASSORT_GPU_ALGO=heuristic)
 * and cached. Everything runs on one stream; the pixels are uploaded as
 * stored (uint8) from the caller's buffer when it is page-locked
 * (gpu_host_alloc), else through a page-locked staging buffer.
 */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "nn/backbone.h"
#include "util/log.h"
#include "util/status.h"
}
#include "nn/cuda_check.h"
#include "nn/cudnn_kernels.h"

namespace {

constexpr int kAlgoCache = 4;          /* batch shapes remembered per layer */
constexpr size_t kWorkspaceMax = (size_t)512 << 20; /* bytes a conv may use */

struct algo_entry {
    int batch;
    cudnnConvolutionFwdAlgo_t algo;
    cudnnMathType_t math;
    size_t ws_bytes;
};

/* One cuDNN convolution. */
struct conv_layer {
    char what[40];         /* "block 03 expand" ... for messages */
    int in_ch, out_ch, k, stride, groups;
    int in_side, out_side; /* spatial side of the input (before any explicit pad) and output */
    int pad_sym;           /* padding cuDNN applies on each side */
    int pad_explicit;      /* 1: the input is padded first by gk_pad (asymmetric SAME) */
    int pad_before, x_side;/* explicit pad top/left; side of the tensor cuDNN reads */
    void *w;               /* device (out_ch, k, k, in_ch / groups) storage type */
    cudnnTensorDescriptor_t xdesc, ydesc;
    cudnnFilterDescriptor_t wdesc;
    cudnnConvolutionDescriptor_t cdesc;
    int desc_batch;        /* batch xdesc/ydesc are set for (0: none) */
    algo_entry cache[kAlgoCache];
    int cache_count, cache_next;
    const algo_entry *cur; /* entry for desc_batch */
};

struct dev_block {
    conv_layer expand, dw, project;
    float *b_expand, *b_dw, *b_project; /* device fp32 biases */
    float *dw_kkc;                      /* device fp32 (k, k, c) for the own depthwise kernel */
    int in_side, out_side, pad_top;     /* SAME geometry of the depthwise */
};

struct gpu_state {
    const struct effnet *net;
    int device, max_batch;
    enum gk_dtype dtype;
    cudnnDataType_t cudnn_dtype;
    int dw_cudnn;          /* depthwise through cuDNN instead of the own kernel */
    int algo_find;         /* cudnnFind instead of heuristics */
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;
    /* device memory */
    uint8_t *d_px;         /* (max_batch, S, S, 3) */
    void *act[3];          /* each (max_batch, act_max) storage type */
    void *padbuf;          /* (max_batch, pad_max) for explicit padding, or NULL */
    void *ws;              /* cuDNN workspace (ws_bytes) */
    size_t ws_bytes;
    float *d_feats;        /* (max_batch, num_features) */
    float *d_logits;       /* (max_batch, num_classes) */
    float *stem_w, *stem_b, *head_b, *cls_w, *cls_b;
    conv_layer head;
    dev_block *blocks;     /* (num_blocks) */
    int stem_side, stem_pad, head_side;
    /* page-locked host staging */
    uint8_t *h_px;         /* (max_batch, S, S, 3) */
    float *h_feats, *h_logits;
};

void same_pad(int in, int k, int s, int *out, int *before, int *total) {
    int o = (in + s - 1) / s;
    int t = (o - 1) * s + k - in;
    if (t < 0) t = 0;
    *out = o;
    *before = t / 2;
    *total = t;
}

/* cudaMalloc with a message a user can act on when the GPU is full. */
int dev_alloc(gpu_state *s, void **p, size_t bytes, const char *what) {
    cudaError_t e = cudaMalloc(p, bytes);
    if (e == cudaSuccess) return ST_OK;
    *p = NULL;
    cudaGetLastError();
    if (e == cudaErrorMemoryAllocation) {
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        int half = s->max_batch / 2 > 0 ? s->max_batch / 2 : 1;
        return err_set(ST_ERR,
                       "cudnn backend: out of GPU memory allocating %s (%.1f MiB) for batch %d "
                       "on device %d (%.2f of %.2f GiB free); try a smaller batch, e.g. "
                       "--set extract.batch=%d",
                       what, bytes / 1048576.0, s->max_batch, s->device, fr / 1073741824.0,
                       tot / 1073741824.0, half);
    }
    return err_set(ST_ERR, "CUDA call `cudaMalloc` (%s, %zu bytes) failed on device %d: %s", what,
                   bytes, s->device, cudaGetErrorString(e));
}

/* Uploads n floats to new device memory (fp32). */
int upload_f32(gpu_state *s, float **dst, const float *src, size_t n, const char *what) {
    int rc = ST_OK;
    TRY(dev_alloc(s, (void **)dst, n * sizeof(float), what));
    /* On our (non-blocking) stream and waited for: a plain cudaMemcpy from pageable
     * memory may return before its DMA lands, unordered with our stream. */
    TRY_CUDA(cudaMemcpyAsync(*dst, src, n * sizeof(float), cudaMemcpyHostToDevice, s->stream));
    TRY_CUDA(cudaStreamSynchronize(s->stream));
fail:
    return rc;
}

/* Uploads n floats as the storage type (converted on the GPU). */
int upload_typed(gpu_state *s, void **dst, const float *src, size_t n, const char *what) {
    int rc = ST_OK;
    float *tmp = NULL;
    TRY(dev_alloc(s, dst, n * gk_dtype_bytes(s->dtype), what));
    TRY(upload_f32(s, &tmp, src, n, what));
    TRY_CUDA(gk_convert(s->dtype, tmp, *dst, n, s->stream));
    TRY_CUDA(cudaStreamSynchronize(s->stream));
fail:
    if (tmp) cudaFree(tmp);
    return rc;
}

void conv_destroy(conv_layer *L) {
    if (L->w) cudaFree(L->w);
    if (L->xdesc) cudnnDestroyTensorDescriptor(L->xdesc);
    if (L->ydesc) cudnnDestroyTensorDescriptor(L->ydesc);
    if (L->wdesc) cudnnDestroyFilterDescriptor(L->wdesc);
    if (L->cdesc) cudnnDestroyConvolutionDescriptor(L->cdesc);
    memset(L, 0, sizeof *L);
}

/* Sets up a convolution: weights (the file's OHWI = cuDNN's NHWC filter
 * layout), descriptors, SAME padding (symmetric for cuDNN, or explicit). */
int conv_init(gpu_state *s, conv_layer *L, const char *what, const struct effnet_conv *c,
              int in_ch, int groups, int in_side) {
    int rc = ST_OK;
    int before, total;
    snprintf(L->what, sizeof L->what, "%s", what);
    L->in_ch = in_ch;
    L->out_ch = c->out_ch;
    L->k = c->kernel;
    L->stride = c->stride;
    L->groups = groups;
    L->in_side = in_side;
    same_pad(in_side, L->k, L->stride, &L->out_side, &before, &total);
    if (total == 2 * before) {
        L->pad_sym = before;
        L->x_side = in_side;
    } else {
        /* TF SAME puts the odd pixel after: cuDNN cannot, so pad first. */
        L->pad_explicit = 1;
        L->pad_before = before;
        L->x_side = in_side + total;
    }
    TRY(upload_typed(s, &L->w, c->weight, (size_t)c->out_ch * L->k * L->k * (in_ch / groups),
                     what));
    TRY_CUDNN(cudnnCreateTensorDescriptor(&L->xdesc));
    TRY_CUDNN(cudnnCreateTensorDescriptor(&L->ydesc));
    TRY_CUDNN(cudnnCreateFilterDescriptor(&L->wdesc));
    TRY_CUDNN(cudnnCreateConvolutionDescriptor(&L->cdesc));
    TRY_CUDNN(cudnnSetFilter4dDescriptor(L->wdesc, s->cudnn_dtype, CUDNN_TENSOR_NHWC, L->out_ch,
                                         in_ch / groups, L->k, L->k));
    TRY_CUDNN(cudnnSetConvolution2dDescriptor(L->cdesc, L->pad_sym, L->pad_sym, L->stride,
                                              L->stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
    TRY_CUDNN(cudnnSetConvolutionGroupCount(L->cdesc, groups));
    TRY_CUDNN(cudnnSetConvolutionMathType(
        L->cdesc, s->dtype == GK_F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
fail:
    return rc;
}

/* Makes the descriptors fit `batch` and picks (or recalls) the algorithm;
 * grows the workspace when the algorithm needs more. */
int conv_prepare(gpu_state *s, conv_layer *L, int batch) {
    int rc = ST_OK;
    if (L->desc_batch == batch && L->cur) return ST_OK;
    TRY_CUDNN(cudnnSetTensor4dDescriptor(L->xdesc, CUDNN_TENSOR_NHWC, s->cudnn_dtype, batch,
                                         L->in_ch, L->x_side, L->x_side));
    TRY_CUDNN(cudnnSetTensor4dDescriptor(L->ydesc, CUDNN_TENSOR_NHWC, s->cudnn_dtype, batch,
                                         L->out_ch, L->out_side, L->out_side));
    {
        /* The geometry cuDNN derives must be TF SAME's: catches a padding slip. */
        int n, c, h, w;
        TRY_CUDNN(cudnnGetConvolution2dForwardOutputDim(L->cdesc, L->xdesc, L->wdesc, &n, &c,
                                                        &h, &w));
        REQUIRE(n == batch && c == L->out_ch && h == L->out_side && w == L->out_side, ST_ERR,
                "cudnn backend: %s: cuDNN output shape (%d, %d, %d, %d) differs from SAME's "
                "(%d, %d, %d, %d) (internal error)",
                L->what, n, h, w, c, batch, L->out_side, L->out_side, L->out_ch);
    }
    L->desc_batch = batch;
    L->cur = NULL;
    for (int i = 0; i < L->cache_count; i++)
        if (L->cache[i].batch == batch) L->cur = &L->cache[i];
    if (!L->cur) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int returned = 0;
        if (s->algo_find)
            TRY_CUDNN(cudnnFindConvolutionForwardAlgorithm(s->cudnn, L->xdesc, L->wdesc,
                                                           L->cdesc, L->ydesc,
                                                           CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                           &returned, perf));
        else
            TRY_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(s->cudnn, L->xdesc, L->wdesc,
                                                             L->cdesc, L->ydesc,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                             &returned, perf));
        int pick = -1;
        for (int i = 0; i < returned && pick < 0; i++) {
            if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kWorkspaceMax)
                continue;
            /* fp32 must stay true fp32 (no TF32 tensor-core conversion). */
            if (s->dtype == GK_F32 && perf[i].mathType != CUDNN_FMA_MATH &&
                perf[i].mathType != CUDNN_DEFAULT_MATH)
                continue;
            pick = i;
        }
        REQUIRE(pick >= 0, ST_ERR,
                "cudnn backend: %s: cuDNN offers no usable algorithm for batch %d (%d tried, "
                "workspace limit %zu MiB); try another extract.precision or a smaller batch",
                L->what, batch, returned, kWorkspaceMax >> 20);
        algo_entry *e = &L->cache[L->cache_next];
        L->cache_next = (L->cache_next + 1) % kAlgoCache;
        if (L->cache_count < kAlgoCache) L->cache_count++;
        e->batch = batch;
        e->algo = perf[pick].algo;
        /* fp32: FMA only, whatever the entry says (cuDNN's default math
         * allows TF32 tensor cores, ~1e-3 relative error). */
        e->math = s->dtype == GK_F32 ? CUDNN_FMA_MATH : perf[pick].mathType;
        TRY_CUDNN(cudnnSetConvolutionMathType(L->cdesc, e->math));
        TRY_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(s->cudnn, L->xdesc, L->wdesc, L->cdesc,
                                                          L->ydesc, e->algo, &e->ws_bytes));
        L->cur = e;
        log_debug("gpu", "%s batch %d: algo %d math %d workspace %zu", L->what, batch,
                  (int)e->algo, (int)e->math, e->ws_bytes);
    } else {
        TRY_CUDNN(cudnnSetConvolutionMathType(L->cdesc, L->cur->math));
    }
    if (L->cur->ws_bytes > s->ws_bytes) {
        TRY_CUDA(cudaStreamSynchronize(s->stream));
        if (s->ws) TRY_CUDA(cudaFree(s->ws));
        s->ws = NULL;
        s->ws_bytes = 0;
        TRY(dev_alloc(s, &s->ws, L->cur->ws_bytes, "cuDNN workspace"));
        s->ws_bytes = L->cur->ws_bytes;
    }
fail:
    return rc;
}

/* y = conv(x) for `batch` images (x already padded when pad_explicit). */
int conv_run(gpu_state *s, conv_layer *L, int batch, const void *x, void *y) {
    int rc = ST_OK;
    const float alpha = 1.0f, beta = 0.0f;
    TRY(conv_prepare(s, L, batch));
    TRY_CUDNN(cudnnConvolutionForward(s->cudnn, &alpha, L->xdesc, x, L->wdesc, L->w, L->cdesc,
                                      L->cur->algo, s->ws, L->cur->ws_bytes, &beta, L->ydesc,
                                      y));
fail:
    return rc;
}

void gpu_free(void *state) {
    gpu_state *s = (gpu_state *)state;
    if (!s) return;
    cudaSetDevice(s->device);
    if (s->stream) cudaStreamSynchronize(s->stream);
    if (s->blocks) {
        for (int i = 0; i < s->net->num_blocks; i++) {
            dev_block *b = &s->blocks[i];
            conv_destroy(&b->expand);
            conv_destroy(&b->dw);
            conv_destroy(&b->project);
            cudaFree(b->b_expand);
            cudaFree(b->b_dw);
            cudaFree(b->b_project);
            cudaFree(b->dw_kkc);
        }
        free(s->blocks);
    }
    conv_destroy(&s->head);
    void *dev[] = {s->d_px,   s->act[0], s->act[1], s->act[2], s->padbuf, s->ws,    s->d_feats,
                   s->d_logits, s->stem_w, s->stem_b, s->head_b, s->cls_w, s->cls_b};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) cudaFree(dev[i]);
    if (s->h_px) cudaFreeHost(s->h_px);
    if (s->h_feats) cudaFreeHost(s->h_feats);
    if (s->h_logits) cudaFreeHost(s->h_logits);
    if (s->cublas) cublasDestroy(s->cublas);
    if (s->cudnn) cudnnDestroy(s->cudnn);
    if (s->stream) cudaStreamDestroy(s->stream);
    cudaGetLastError();
    free(s);
}

int parse_precision(const char *p, gpu_state *s) {
    if (!p || !strcmp(p, "fp32")) s->dtype = GK_F32, s->cudnn_dtype = CUDNN_DATA_FLOAT;
    else if (!strcmp(p, "fp16")) s->dtype = GK_F16, s->cudnn_dtype = CUDNN_DATA_HALF;
    else if (!strcmp(p, "bf16")) s->dtype = GK_BF16, s->cudnn_dtype = CUDNN_DATA_BFLOAT16;
    else
        return err_set(ST_USAGE, "extract.precision '%s' is not one of fp32|fp16|bf16", p);
    return ST_OK;
}

int gpu_init(const struct effnet *net, const struct backbone_opts *opts, void **state) {
    int rc = ST_OK;
    gpu_state *s = NULL;
    int count = 0;
    size_t act_max = 0, pad_max = 0;
    const char *env;
    char what[64];
    struct cudaDeviceProp prop;
    const size_t S = (size_t)net->image_size;
    TRY_ALLOC(s = (gpu_state *)calloc(1, sizeof *s));
    s->net = net;
    s->max_batch = opts->max_batch;
    s->device = opts->device;
    TRY(parse_precision(opts->precision, s));
    env = getenv("ASSORT_GPU_DEPTHWISE");
    s->dw_cudnn = env && !strcmp(env, "cudnn");
    env = getenv("ASSORT_GPU_ALGO");
    s->algo_find = !(env && !strcmp(env, "heuristic"));

    {
        cudaError_t e = cudaGetDeviceCount(&count);
        if (e != cudaSuccess) cudaGetLastError(), count = 0;
        REQUIRE(count > 0, ST_USAGE,
                "cudnn backend: no CUDA device visible on rank %d (%s); use the cpu backend "
                "(--device cpu)",
                log_rank(), e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    }
    REQUIRE(s->device >= 0 && s->device < count, ST_USAGE,
            "cudnn backend: device %d does not exist (%d visible; CUDA_VISIBLE_DEVICES=%s)",
            s->device, count, getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES")
                                                              : "(unset)");
    TRY_CUDA(cudaSetDevice(s->device));
    TRY_CUDA(cudaGetDeviceProperties(&prop, s->device));
    REQUIRE(s->dtype != GK_BF16 || prop.major >= 8, ST_USAGE,
            "cudnn backend: bf16 needs compute capability 8.0+, device %d (%s) is %d.%d; use "
            "--set extract.precision=fp16",
            s->device, prop.name, prop.major, prop.minor);
    TRY_CUDA(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    TRY_CUDNN(cudnnCreate(&s->cudnn));
    TRY_CUDNN(cudnnSetStream(s->cudnn, s->stream));
    TRY_CUBLAS(cublasCreate(&s->cublas));
    TRY_CUBLAS(cublasSetStream(s->cublas, s->stream));
    TRY_CUBLAS(cublasSetMathMode(s->cublas, CUBLAS_PEDANTIC_MATH)); /* fp32 classifier, no TF32 */

    /* Stem (own kernel, fp32 weights). */
    {
        int before, total;
        same_pad(net->image_size, net->stem.kernel, net->stem.stride, &s->stem_side, &before,
                 &total);
        s->stem_pad = before;
        const size_t wn = (size_t)net->stem.out_ch * net->stem.kernel * net->stem.kernel * 3;
        TRY(upload_f32(s, &s->stem_w, net->stem.weight, wn, "stem weight"));
        TRY(upload_f32(s, &s->stem_b, net->stem.bias, net->stem.out_ch, "stem bias"));
        act_max = (size_t)s->stem_side * s->stem_side * net->stem.out_ch;
    }
    /* Blocks. */
    TRY_ALLOC(s->blocks = (dev_block *)calloc((size_t)net->num_blocks, sizeof *s->blocks));
    {
        int h = s->stem_side;
        for (int i = 0; i < net->num_blocks; i++) {
            const struct effnet_block *b = &net->blocks[i];
            dev_block *d = &s->blocks[i];
            int total;
            if (b->expand_ratio != 1) {
                snprintf(what, sizeof what, "block %02d expand", i);
                TRY(conv_init(s, &d->expand, what, &b->expand, b->in_ch, 1, h));
                TRY(upload_f32(s, &d->b_expand, b->expand.bias, b->exp_ch, what));
            }
            d->in_side = h;
            same_pad(h, b->kernel, b->stride, &d->out_side, &d->pad_top, &total);
            snprintf(what, sizeof what, "block %02d depthwise", i);
            TRY(upload_f32(s, &d->b_dw, b->depthwise.bias, b->exp_ch, what));
            if (s->dw_cudnn) {
                TRY(conv_init(s, &d->dw, what, &b->depthwise, b->exp_ch, b->exp_ch,
                              h));
                if (d->dw.pad_explicit) {
                    size_t p = (size_t)d->dw.x_side * d->dw.x_side * b->exp_ch;
                    if (p > pad_max) pad_max = p;
                }
            } else {
                /* (c, k, k, 1) -> (k, k, c): a warp's 32 channels read 32 consecutive weights. */
                const int k = b->kernel, c = b->exp_ch;
                float *kkc = (float *)malloc((size_t)k * k * c * sizeof(float));
                TRY_ALLOC(kkc);
                for (int ch = 0; ch < c; ch++)
                    for (int t = 0; t < k * k; t++)
                        kkc[(size_t)t * c + ch] = b->depthwise.weight[(size_t)ch * k * k + t];
                rc = upload_f32(s, &d->dw_kkc, kkc, (size_t)k * k * c, what);
                free(kkc);
                TRY(rc);
            }
            snprintf(what, sizeof what, "block %02d project", i);
            TRY(conv_init(s, &d->project, what, &b->project, b->exp_ch, 1,
                          d->out_side));
            TRY(upload_f32(s, &d->b_project, b->project.bias, b->out_ch, what));
            const size_t hh = (size_t)h * h, oo = (size_t)d->out_side * d->out_side;
            if (hh * b->exp_ch > act_max) act_max = hh * b->exp_ch;
            if (oo * b->exp_ch > act_max) act_max = oo * b->exp_ch;
            if (oo * b->out_ch > act_max) act_max = oo * b->out_ch;
            h = d->out_side;
        }
        s->head_side = h;
        TRY(conv_init(s, &s->head, "head", &net->head, net->head.in_ch, 1, h));
        TRY(upload_f32(s, &s->head_b, net->head.bias, net->head.out_ch, "head bias"));
        if ((size_t)h * h * net->head.out_ch > act_max) act_max = (size_t)h * h * net->head.out_ch;
    }
    TRY(upload_f32(s, &s->cls_w, net->classifier.weight,
                   (size_t)net->num_classes * net->num_features, "classifier weight"));
    TRY(upload_f32(s, &s->cls_b, net->classifier.bias, net->num_classes, "classifier bias"));

    /* Activations and I/O buffers for max_batch. */
    {
        const size_t B = (size_t)s->max_batch, es = gk_dtype_bytes(s->dtype);
        TRY(dev_alloc(s, (void **)&s->d_px, B * S * S * 3, "pixel batch"));
        for (int i = 0; i < 3; i++)
            TRY(dev_alloc(s, &s->act[i], B * act_max * es, "activation buffer"));
        if (pad_max) TRY(dev_alloc(s, &s->padbuf, B * pad_max * es, "padding buffer"));
        TRY(dev_alloc(s, (void **)&s->d_feats, B * net->num_features * sizeof(float),
                      "features"));
        TRY(dev_alloc(s, (void **)&s->d_logits, B * net->num_classes * sizeof(float), "logits"));
        TRY_CUDA(cudaHostAlloc((void **)&s->h_px, B * S * S * 3, cudaHostAllocDefault));
        TRY_CUDA(cudaHostAlloc((void **)&s->h_feats, B * net->num_features * sizeof(float),
                               cudaHostAllocDefault));
        TRY_CUDA(cudaHostAlloc((void **)&s->h_logits, B * net->num_classes * sizeof(float),
                               cudaHostAllocDefault));
    }
    /* Choose every algorithm now for max_batch (and size the workspace), so
     * the first forward does not pay for it; smaller batches add entries. */
    for (int i = 0; i < net->num_blocks; i++) {
        dev_block *d = &s->blocks[i];
        if (d->expand.w) TRY(conv_prepare(s, &d->expand, s->max_batch));
        if (d->dw.w) TRY(conv_prepare(s, &d->dw, s->max_batch));
        TRY(conv_prepare(s, &d->project, s->max_batch));
    }
    TRY(conv_prepare(s, &s->head, s->max_batch));
    TRY_CUDA(cudaStreamSynchronize(s->stream));
    log_info("gpu", "cudnn backend on device %d (%s), %s, batch %d, depthwise %s, algorithms %s, "
             "activations %.0f MiB",
             s->device, prop.name, opts->precision ? opts->precision : "fp32", s->max_batch,
             s->dw_cudnn ? "cuDNN grouped conv" : "own kernel",
             s->algo_find ? "cudnnFind" : "heuristics",
             3.0 * s->max_batch * act_max * gk_dtype_bytes(s->dtype) / 1048576.0);
    *state = s;
    s = NULL;
fail:
    if (s) gpu_free(s);
    return rc;
}

int gpu_forward(void *state, const uint8_t *pixels, int batch, float *features,
                float *logits) {
    int rc = ST_OK;
    gpu_state *s = (gpu_state *)state;
    const struct effnet *net = s->net;
    const size_t S = (size_t)net->image_size, px_bytes = (size_t)batch * S * S * 3;
    const uint8_t *src = pixels;
    void *x = s->act[0], *e = s->act[1], *d = s->act[2];
    int h = s->stem_side;
    struct cudaPointerAttributes pa;

    TRY_CUDA(cudaSetDevice(s->device));
    /* Page-locked caller memory is uploaded directly; anything else is
     * staged through our page-locked buffer (a DMA needs locked pages). */
    if (cudaPointerGetAttributes(&pa, pixels) != cudaSuccess || pa.type != cudaMemoryTypeHost) {
        cudaGetLastError();
        memcpy(s->h_px, pixels, px_bytes);
        src = s->h_px;
    }
    TRY_CUDA(cudaMemcpyAsync(s->d_px, src, px_bytes, cudaMemcpyHostToDevice, s->stream));
    TRY_CUDA(gk_stem(s->dtype, s->d_px, batch, net->image_size, net->input_mean, net->input_std,
                     s->stem_w, s->stem_b, net->stem.out_ch, net->stem.kernel, net->stem.stride,
                     s->stem_pad, h, x, s->stream));
    for (int i = 0; i < net->num_blocks; i++) {
        const struct effnet_block *b = &net->blocks[i];
        dev_block *db = &s->blocks[i];
        const void *in = x; /* (batch, h, h, exp_ch) input of the depthwise */
        const size_t rows_in = (size_t)batch * h * h;
        const size_t rows_out = (size_t)batch * db->out_side * db->out_side;
        if (b->expand_ratio != 1) {
            TRY(conv_run(s, &db->expand, batch, x, e));
            TRY_CUDA(gk_bias_act(s->dtype, e, NULL, db->b_expand, rows_in, b->exp_ch, 1,
                                 s->stream));
            in = e;
        }
        if (s->dw_cudnn) {
            if (db->dw.pad_explicit) {
                TRY_CUDA(gk_pad(s->dtype, in, batch, h, h, b->exp_ch, db->dw.pad_before,
                                db->dw.pad_before, db->dw.x_side, db->dw.x_side, s->padbuf,
                                s->stream));
                in = s->padbuf;
            }
            TRY(conv_run(s, &db->dw, batch, in, d));
            TRY_CUDA(gk_bias_act(s->dtype, d, NULL, db->b_dw, rows_out, b->exp_ch, 1,
                                 s->stream));
        } else {
            TRY_CUDA(gk_depthwise(s->dtype, in, batch, h, h, b->exp_ch, db->dw_kkc, db->b_dw,
                                  b->kernel, b->stride, db->pad_top, db->pad_top, db->out_side,
                                  db->out_side, d, s->stream));
        }
        /* Project into e (free now); the residual reads x. */
        TRY(conv_run(s, &db->project, batch, d, e));
        TRY_CUDA(gk_bias_act(s->dtype, e, b->residual ? x : NULL, db->b_project, rows_out,
                             b->out_ch, 0, s->stream));
        void *t = x;
        x = e;
        e = t;
        h = db->out_side;
    }
    TRY(conv_run(s, &s->head, batch, x, e));
    TRY_CUDA(gk_bias_relu6_pool(s->dtype, e, s->head_b, batch, h * h, net->head.out_ch,
                                s->d_feats, s->stream));
    TRY_CUDA(cudaMemcpyAsync(s->h_feats, s->d_feats,
                             (size_t)batch * net->num_features * sizeof(float),
                             cudaMemcpyDeviceToHost, s->stream));
    if (logits) {
        /* Row-major logits (batch, C) = feats (batch, F) x W^T + b, i.e. in
         * cuBLAS's column-major terms logits^T (C, batch) = W (C, F) x
         * feats^T: W row-major (C, F) is column-major (F, C), so op = T. */
        const float one = 1.0f;
        TRY_CUDA(gk_fill_rows(s->d_logits, s->cls_b, batch, net->num_classes, s->stream));
        TRY_CUBLAS(cublasSgemm(s->cublas, CUBLAS_OP_T, CUBLAS_OP_N, net->num_classes, batch,
                               net->num_features, &one, s->cls_w, net->num_features, s->d_feats,
                               net->num_features, &one, s->d_logits, net->num_classes));
        TRY_CUDA(cudaMemcpyAsync(s->h_logits, s->d_logits,
                                 (size_t)batch * net->num_classes * sizeof(float),
                                 cudaMemcpyDeviceToHost, s->stream));
    }
    /* Kernel execution errors (illegal address, ...) surface here. */
    TRY_CUDA(cudaStreamSynchronize(s->stream));
    memcpy(features, s->h_feats, (size_t)batch * net->num_features * sizeof(float));
    if (logits) memcpy(logits, s->h_logits, (size_t)batch * net->num_classes * sizeof(float));
fail:
    return rc;
}

} // namespace

extern "C" const struct backbone_ops backbone_cudnn_ops = {
    "cudnn",
    gpu_init,
    gpu_forward,
    gpu_free,
};
