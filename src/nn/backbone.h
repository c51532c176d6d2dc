/* backbone.h - the EfficientNet-Lite forward pass behind a backend table.
 *
 * A backend ("cpu" always; "cudnn" when built with CUDA and the cuDNN
 * backend) implements struct backbone_ops. Callers only see the opaque
 * struct backbone:
 *
 *   struct backbone *bb;
 *   TRY(backbone_create("cpu", net, &opts, &bb));
 *   TRY(backbone_forward(bb, pixels, n, feats, NULL));
 *   backbone_free(bb);
 */
#ifndef ASSORT_NN_BACKBONE_H
#define ASSORT_NN_BACKBONE_H

#include <stdint.h>

#include "nn/effnet.h"

struct backbone_opts {
    int threads;           /* CPU threads for this rank; 0: cores / ranks on the node */
    int max_batch;         /* largest batch forward will be given (>= 1) */
    const char *precision; /* "fp32" | "fp16" | "bf16" (GPU backends); NULL = fp32 */
    int device;            /* GPU index on the node (GPU backends) */
    int sub_batch;         /* CPU: images run through the whole network at once to keep
                              activations cache-sized; 0 = default (see docs/nn.md) */
    int cpu_blas_only;     /* CPU: 1 = every 1x1 convolution on OpenBLAS sgemm; 0 = our
                              packed GEMM where the CPU has AVX-512 (for tests and A/B) */
    int cpu_fuse_side;     /* CPU: blocks whose input side is >= this run expand, depthwise
                              and project row by row (needs the packed GEMM);
                              0 = default (56, docs/nn.md), -1 = never */
};

/* A backend. init reads `net` (which must outlive the backbone) and returns
 * its private state; forward has backbone_forward's contract; free releases
 * the state (NULL is fine). */
struct backbone_ops {
    const char *name;
    int (*init)(const struct effnet *net, const struct backbone_opts *opts, void **state);
    int (*forward)(void *state, const uint8_t *pixels, int batch, float *features,
                   float *logits);
    void (*free)(void *state);
};

struct backbone;

/* Creates a backbone on backend `backend` ("cpu" | "cudnn"). ST_USAGE for an
 * unknown backend or one not compiled in (the message lists those that are).
 * `net` is borrowed and must outlive the backbone. *out is owned by the
 * caller (backbone_free). */
int backbone_create(const char *backend, const struct effnet *net,
                    const struct backbone_opts *opts, struct backbone **out);

/* Runs the network on `batch` images (1 <= batch <= opts.max_batch).
 *   pixels   (batch, S, S, 3) uint8 RGB, S = net->image_size
 *   features (batch, num_features) float32, global-average-pooled head output
 *   logits   (batch, num_classes) float32 before softmax, or NULL to skip
 * Features of an image do not depend on the other images in the batch. */
int backbone_forward(struct backbone *bb, const uint8_t *pixels, int batch, float *features,
                     float *logits);

/* The backend's name ("cpu", ...). */
const char *backbone_name(const struct backbone *bb);

/* Threads per rank that opts.threads == 0 means: online cores / ranks on
 * this node (at least 1). */
int backbone_default_threads(void);

void backbone_free(struct backbone *bb);

#endif
