/* cpu_backend.c - the CPU backend: EfficientNet-Lite forward pass in NHWC
 * with the stem (im2col) and the 1x1 convolutions on our packed AVX-512 GEMM
 * when the CPU has it, else on OpenBLAS sgemm, direct vectorised loops for
 * the depthwise convolutions, and blocks at side >= 56 fused per row band. The reference every GPU
 * backend is tested against. */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backbone.h"
#include "nn/cpu_kernels.h"
#include "util/check.h"

/* Default images per pass through the network: large enough that the 7x7
 * layers still make a GEMM with a few hundred rows, small enough that one
 * activation stays near the last-level cache. Measured in docs/nn.md. */
#define CPU_DEFAULT_SUB_BATCH 2

/* Blocks whose input side is at least this run fused, row by row (see
 * block_fused); smaller ones fit in cache layer by layer, and row-sized
 * GEMMs of 7 or 14 rows would waste most of a 12-row register tile. */
#define CPU_DEFAULT_FUSE_SIDE 56

/* Fused blocks project at least this many depthwise output pixels per GEMM. */
#define CPU_FUSE_BAND_PIXELS 96

/* One worker's scratch: activations rotate through buf[0..2]. */
struct cpu_scratch {
    float *cols;          /* (sub_batch * so * so, 27) stem patches */
    float *buf[3];        /* each (sub_batch, act_max) NHWC activations */
    float *ring;          /* (ring_max) fused blocks: the last k expanded input rows */
    float *band;          /* (band_max) fused blocks: depthwise output rows to project */
};

/* A 1x1 convolution's weights as cpu_conv1x1_packed wants them, or NULL
 * where it runs on OpenBLAS (cpu_conv1x1, the file's (cout, cin) weight). */
struct cpu_conv {
    float *packed;        /* (cpu_conv1x1_pack_count) panels, see cpu_conv1x1_pack */
};

struct cpu_state {
    const struct effnet *net;
    struct cpu_conv stem, head, classifier;
    struct cpu_conv *expand, *project; /* (num_blocks) */
    int threads;
    int sub_batch;        /* images per pass, <= max_batch */
    float **dw_kkc;       /* (num_blocks) depthwise weights repacked (k, k, c) */
    struct cpu_scratch *scratch; /* (threads) one per image-parallel worker */
    size_t act_max;       /* floats of the largest activation of one image */
    unsigned char *fused; /* (num_blocks) 1: run row by row (block_fused) when single-threaded */
    size_t ring_max, band_max; /* floats of the scratch ring / band */
    int stem_side;        /* stem output side */
};

static void cpu_free(void *state) {
    struct cpu_state *s = state;
    if (!s) return;
    free(s->stem.packed);
    free(s->head.packed);
    free(s->classifier.packed);
    for (int i = 0; s->expand && i < s->net->num_blocks; i++) free(s->expand[i].packed);
    for (int i = 0; s->project && i < s->net->num_blocks; i++) free(s->project[i].packed);
    free(s->expand);
    free(s->project);
    free(s->fused);
    if (s->dw_kkc)
        for (int i = 0; i < s->net->num_blocks; i++) free(s->dw_kkc[i]);
    free(s->dw_kkc);
    for (int t = 0; s->scratch && t < s->threads; t++) {
        free(s->scratch[t].cols);
        for (int i = 0; i < 3; i++) free(s->scratch[t].buf[i]);
        free(s->scratch[t].ring);
        free(s->scratch[t].band);
    }
    free(s->scratch);
    free(s);
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Packs `conv` for our GEMM when this CPU and its shape allow it. */
static int conv_prepare(const struct effnet_conv *conv, int cin, int blas_only,
                        struct cpu_conv *out) {
    int rc = ST_OK;
    out->packed = NULL;
    if (blas_only || !cpu_gemm_available(conv->out_ch)) return ST_OK;
    TRY_ALLOC(out->packed = malloc(cpu_conv1x1_pack_count(conv->out_ch, cin) * sizeof(float)));
    cpu_conv1x1_pack(conv->weight, conv->out_ch, cin, out->packed);
fail:
    return rc;
}

/* out (rows, cout) = act(in (rows, cin) x W^T + bias [+ residual]) on our
 * GEMM when `c` is packed, else on OpenBLAS. */
static void conv_run(const struct cpu_conv *c, const struct effnet_conv *conv, const float *in,
                     int rows, int cin, enum cpu_act act, const float *residual, float *out,
                     int threads) {
    if (c->packed)
        cpu_conv1x1_packed(in, rows, cin, c->packed, conv->bias, conv->out_ch, act, residual,
                           out, threads);
    else
        cpu_conv1x1(in, rows, cin, conv->weight, conv->bias, conv->out_ch, act, residual, out,
                    threads);
}

static int cpu_init(const struct effnet *net, const struct backbone_opts *opts, void **state) {
    int rc = ST_OK;
    struct cpu_state *s = NULL;
    TRY_ALLOC(s = calloc(1, sizeof *s));
    s->net = net;
    s->threads = opts->threads > 0 ? opts->threads : 1;
    s->sub_batch = opts->sub_batch > 0 ? opts->sub_batch : CPU_DEFAULT_SUB_BATCH;
    if (s->sub_batch > opts->max_batch) s->sub_batch = opts->max_batch;

    /* Walk the architecture for the largest activation of one image. */
    int pad, h;
    cpu_same_pad(net->image_size, net->stem.kernel, net->stem.stride, &h, &pad);
    s->stem_side = h;
    size_t m = (size_t)h * h * net->stem.out_ch;
    TRY_ALLOC(s->dw_kkc = calloc((size_t)net->num_blocks, sizeof *s->dw_kkc));
    for (int i = 0; i < net->num_blocks; i++) {
        const struct effnet_block *b = &net->blocks[i];
        int oh;
        cpu_same_pad(h, b->kernel, b->stride, &oh, &pad);
        m = max_sz(m, (size_t)h * h * b->exp_ch);
        m = max_sz(m, (size_t)oh * oh * b->exp_ch);
        m = max_sz(m, (size_t)oh * oh * b->out_ch);
        h = oh;
        /* (c, k, k, 1) -> (k, k, c): channels contiguous like the NHWC input. */
        const int k = b->kernel, c = b->exp_ch;
        TRY_ALLOC(s->dw_kkc[i] = malloc((size_t)k * k * c * sizeof(float)));
        for (int ch = 0; ch < c; ch++)
            for (int t = 0; t < k * k; t++)
                s->dw_kkc[i][(size_t)t * c + ch] = b->depthwise.weight[(size_t)ch * k * k + t];
    }
    m = max_sz(m, (size_t)h * h * net->head.out_ch);
    s->act_max = m;

    const int blas = opts->cpu_blas_only;
    TRY(conv_prepare(&net->stem, net->stem.kernel * net->stem.kernel * 3, blas, &s->stem));
    TRY(conv_prepare(&net->head, net->head.in_ch, blas, &s->head));
    TRY(conv_prepare(&net->classifier, net->num_features, blas, &s->classifier));
    TRY_ALLOC(s->expand = calloc((size_t)net->num_blocks, sizeof *s->expand));
    TRY_ALLOC(s->project = calloc((size_t)net->num_blocks, sizeof *s->project));
    for (int i = 0; i < net->num_blocks; i++) {
        const struct effnet_block *b = &net->blocks[i];
        if (b->expand_ratio != 1) TRY(conv_prepare(&b->expand, b->in_ch, blas, &s->expand[i]));
        TRY(conv_prepare(&b->project, b->exp_ch, blas, &s->project[i]));
    }
    /* Which blocks run fused, and the scratch they need. */
    const int fuse_side = opts->cpu_fuse_side ? opts->cpu_fuse_side : CPU_DEFAULT_FUSE_SIDE;
    TRY_ALLOC(s->fused = calloc((size_t)net->num_blocks, 1));
    h = s->stem_side;
    for (int i = 0; i < net->num_blocks; i++) {
        const struct effnet_block *b = &net->blocks[i];
        int oh;
        cpu_same_pad(h, b->kernel, b->stride, &oh, &pad);
        s->fused[i] = fuse_side > 0 && h >= fuse_side && b->kernel <= CPU_DW_KMAX &&
                      s->project[i].packed && (b->expand_ratio == 1 || s->expand[i].packed);
        if (s->fused[i]) {
            s->ring_max = max_sz(s->ring_max, (size_t)b->kernel * h * b->exp_ch);
            s->band_max = max_sz(s->band_max, (size_t)(oh + CPU_FUSE_BAND_PIXELS) * b->exp_ch);
        }
        h = oh;
    }
    size_t so = (size_t)s->stem_side;
    TRY_ALLOC(s->scratch = calloc((size_t)s->threads, sizeof *s->scratch));
    for (int t = 0; t < s->threads; t++) {
        struct cpu_scratch *w = &s->scratch[t];
        TRY_ALLOC(w->cols = malloc((size_t)s->sub_batch * so * so * 27 * sizeof(float)));
        for (int i = 0; i < 3; i++)
            TRY_ALLOC(w->buf[i] = malloc((size_t)s->sub_batch * m * sizeof(float)));
        if (s->ring_max) {
            TRY_ALLOC(w->ring = malloc(s->ring_max * sizeof(float)));
            TRY_ALLOC(w->band = malloc(s->band_max * sizeof(float)));
        }
    }
    *state = s;
    s = NULL;
fail:
    cpu_free(s);
    return rc;
}

/* One block, fused, image by image and output row by output row:
 *   x   (n, h, h, in_ch)  block input
 *   out (n, oh, oh, out_ch) block output (must not alias x: the residual reads it)
 * Each input row is expanded (+ ReLU6) into a ring of k rows just before the
 * first output row that needs it, the depthwise row reads the ring, and
 * depthwise rows are projected in bands of >= CPU_FUSE_BAND_PIXELS pixels.
 * The expanded tensor (Lite0: 4.8 MB per image at 112x112x96) never leaves
 * the cache. Same kernels on the same rows as the layer-by-layer path, so
 * the same bits. */
static void block_fused(const struct cpu_state *s, int i, struct cpu_scratch *w,
                        const float *x, int n, int h, float *out) {
    const struct effnet_block *b = &s->net->blocks[i];
    const int k = b->kernel, ec = b->exp_ch;
    int oh, pad_t;
    cpu_same_pad(h, k, b->stride, &oh, &pad_t);
    const int band_rows = (CPU_FUSE_BAND_PIXELS + oh - 1) / oh;
    for (int img = 0; img < n; img++) {
        const float *xi = x + (size_t)img * h * h * b->in_ch; /* (h, h, in_ch) */
        float *oi = out + (size_t)img * oh * oh * b->out_ch;  /* (oh, oh, out_ch) */
        int next = 0;  /* next input row to expand */
        int y0 = 0, nb = 0; /* first output row of the band, rows in it */
        for (int oy = 0; oy < oh; oy++) {
            const int iy0 = oy * b->stride - pad_t;
            const int last = iy0 + k - 1 < h - 1 ? iy0 + k - 1 : h - 1;
            const float *rows[CPU_DW_KMAX];
            if (b->expand_ratio != 1) {
                /* Row `next` overwrites row next - k, which output rows from
                 * oy on (they start at iy0 > next - k) no longer read. */
                for (; next <= last; next++)
                    cpu_conv1x1_packed(xi + (size_t)next * h * b->in_ch, h, b->in_ch,
                                       s->expand[i].packed, b->expand.bias, ec, CPU_ACT_RELU6,
                                       NULL, w->ring + (size_t)(next % k) * h * ec, 1);
            }
            for (int ky = 0; ky < k; ky++) {
                const int iy = iy0 + ky;
                rows[ky] = iy < 0 || iy >= h ? NULL
                           : b->expand_ratio != 1 ? w->ring + (size_t)(iy % k) * h * ec
                                                  : xi + (size_t)iy * h * ec;
            }
            cpu_depthwise_row(rows, h, h, ec, s->dw_kkc[i], b->depthwise.bias, k, b->stride, oy,
                              CPU_ACT_RELU6, w->band + (size_t)nb * oh * ec);
            if (++nb == band_rows || oy == oh - 1) {
                /* residual blocks have stride 1 and in == out: x rows match output rows */
                const size_t off = (size_t)y0 * oh * b->out_ch;
                cpu_conv1x1_packed(w->band, nb * oh, ec, s->project[i].packed, b->project.bias,
                                   b->out_ch, CPU_ACT_NONE, b->residual ? xi + off : NULL,
                                   oi + off, 1);
                y0 = oy + 1;
                nb = 0;
            }
        }
    }
}

/* Runs n <= sub_batch images to pooled features (n, num_features) with the
 * scratch `w`; kernels split their work over T threads (1 inside an
 * image-parallel worker). */
static void cpu_forward_chunk(const struct cpu_state *s, struct cpu_scratch *w, int T,
                              const uint8_t *pixels, int n, float *features) {
    const struct effnet *net = s->net;
    float *x = w->buf[0], *e = w->buf[1], *d = w->buf[2];
    int h = s->stem_side;

    cpu_stem_im2col(pixels, n, net->image_size, net->input_mean, net->input_std,
                    net->stem.kernel, net->stem.stride, w->cols, T);
    conv_run(&s->stem, &net->stem, w->cols, n * h * h, net->stem.kernel * net->stem.kernel * 3,
             CPU_ACT_RELU6, NULL, x, T);
    for (int i = 0; i < net->num_blocks; i++) {
        const struct effnet_block *b = &net->blocks[i];
        int oh, pad;
        cpu_same_pad(h, b->kernel, b->stride, &oh, &pad);
        if (T == 1 && s->fused[i]) {
            block_fused(s, i, w, x, n, h, e);
            float *t = x;
            x = e;
            e = t;
            h = oh;
            continue;
        }
        const float *src = x; /* (n, h, h, exp_ch) input of the depthwise */
        if (b->expand_ratio != 1) {
            conv_run(&s->expand[i], &b->expand, x, n * h * h, b->in_ch, CPU_ACT_RELU6, NULL, e,
                     T);
            src = e;
        }
        cpu_depthwise(src, n, h, h, b->exp_ch, s->dw_kkc[i], b->depthwise.bias, b->kernel,
                      b->stride, CPU_ACT_RELU6, d, T);
        /* Project into e (free now); the residual reads x, so x cannot be the output. */
        conv_run(&s->project[i], &b->project, d, n * oh * oh, b->exp_ch, CPU_ACT_NONE,
                 b->residual ? x : NULL, e, T);
        float *t = x;
        x = e;
        e = t;
        h = oh;
    }
    conv_run(&s->head, &net->head, x, n * h * h, net->head.in_ch, CPU_ACT_RELU6, NULL, e, T);
    cpu_avgpool(e, n, h * h, net->head.out_ch, features, T);
}

/* Two ways to use T threads, chosen per call; both give bit-identical
 * features (every output element is computed by the same kernel code with
 * the same reduction order; threads only split rows):
 *  - image-parallel (batch >= 2T): one OpenMP region per call; each thread
 *    runs whole sub-batches through the network with its own scratch and a
 *    single-threaded OpenBLAS (openblas_set_num_threads(1), so no BLAS
 *    threads exist inside the region). No synchronisation between layers:
 *    on 2 cores this is what keeps threads from spinning against each other
 *    (see docs/nn.md for the measurements).
 *  - layer-parallel (small batches): each kernel splits its rows over T
 *    OpenMP threads and each GEMM runs on T OpenBLAS threads, one after the
 *    other, never nested. */
static int cpu_forward(void *state, const uint8_t *pixels, int batch, float *features,
                       float *logits) {
    struct cpu_state *s = state;
    const struct effnet *net = s->net;
    const size_t img_bytes = (size_t)net->image_size * net->image_size * 3;
    const int T = s->threads;
    const int chunks = (batch + s->sub_batch - 1) / s->sub_batch;
    if (T > 1 && batch >= 2 * T) {
        openblas_set_num_threads(1);
#pragma omp parallel for num_threads(T) schedule(dynamic, 1)
        for (int c = 0; c < chunks; c++) {
            int b0 = c * s->sub_batch;
            int n = batch - b0 < s->sub_batch ? batch - b0 : s->sub_batch;
            cpu_forward_chunk(s, &s->scratch[omp_get_thread_num()], 1,
                              pixels + (size_t)b0 * img_bytes, n,
                              features + (size_t)b0 * net->num_features);
        }
    } else {
        /* Process-wide setting; set on every call so that another user of
         * OpenBLAS in the process cannot leave us with a different count. */
        openblas_set_num_threads(T);
        for (int c = 0; c < chunks; c++) {
            int b0 = c * s->sub_batch;
            int n = batch - b0 < s->sub_batch ? batch - b0 : s->sub_batch;
            cpu_forward_chunk(s, &s->scratch[0], T, pixels + (size_t)b0 * img_bytes, n,
                              features + (size_t)b0 * net->num_features);
        }
    }
    if (logits) {
        openblas_set_num_threads(T);
        conv_run(&s->classifier, &net->classifier, features, batch, net->num_features,
                 CPU_ACT_NONE, NULL, logits, T);
    }
    return ST_OK;
}

const struct backbone_ops backbone_cpu_ops = {
    .name = "cpu",
    .init = cpu_init,
    .forward = cpu_forward,
    .free = cpu_free,
};
