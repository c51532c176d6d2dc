/* effnet.h - EfficientNet-Lite0/1/2 weights: loading and checking the file.
 *
 * The weights file (weights/efficientnet_liteN.h5, written by
 * tools/import-weights, layout in docs/nn.md) holds every convolution with
 * batch norm already folded in, so each conv is a weight and a bias. The
 * architecture is read from the per-block attributes; every dataset's shape
 * is checked against it on load, so a backend can trust the struct below.
 *
 * Layouts (float32, C order, as in the file):
 *   conv weight  (Cout, KH, KW, Cin)  "OHWI"; depthwise (C, K, K, 1)
 *   classifier   (num_classes, num_features)
 */
#ifndef ASSORT_NN_EFFNET_H
#define ASSORT_NN_EFFNET_H

#include <stddef.h>

#define EFFNET_FORMAT "assort-weights"
#define EFFNET_FORMAT_VERSION 1

/* One convolution (or the classifier, with kernel 1 and stride 1). */
struct effnet_conv {
    int out_ch, kernel, in_ch;  /* in_ch is 1 for depthwise */
    int stride;
    float *weight;              /* (out_ch, kernel, kernel, in_ch) */
    float *bias;                /* (out_ch) */
};

/* One MBConv block: [1x1 expand + ReLU6] -> depthwise KxK/s + ReLU6 ->
 * 1x1 project (linear) [+ block input when residual]. */
struct effnet_block {
    int in_ch, out_ch;
    int expand_ratio;           /* 1: no expand conv, exp_ch == in_ch */
    int exp_ch;                 /* in_ch * expand_ratio */
    int kernel;                 /* 3 or 5 */
    int stride;                 /* 1 or 2 */
    int residual;               /* add the block input (stride 1, in == out) */
    struct effnet_conv expand;  /* weight NULL when expand_ratio == 1 */
    struct effnet_conv depthwise;
    struct effnet_conv project;
};

struct effnet {
    char model[32];             /* "efficientnet-lite0" ... */
    char path[1024];            /* file it was loaded from */
    char source_sha256[80];     /* of the original .pth, for run records */
    int image_size;             /* native input side: 224 / 240 / 260 */
    int num_features;           /* 1280 */
    int num_classes;            /* 1000 */
    float input_mean[3];        /* x = (pixel - mean[c]) / std[c], pixel 0..255 RGB */
    float input_std[3];
    struct effnet_conv stem;    /* 3x3 s2, 3 -> 32, ReLU6 */
    int num_blocks;
    struct effnet_block *blocks;/* (num_blocks) in execution order */
    struct effnet_conv head;    /* 1x1, last block out -> num_features, ReLU6 */
    struct effnet_conv classifier; /* (num_classes, 1, 1, num_features) */
};

/* Maps a model name ("lite0", "lite1", "lite2", or "efficientnet-liteN")
 * to "<weights_dir>/efficientnet_liteN.h5" in `out`. ST_USAGE for an unknown
 * name or a path that does not fit. */
int effnet_weights_path(const char *weights_dir, const char *model, char *out,
                        size_t out_bytes);

/* Reads and checks a weights file. Refuses (ST_DATA, one line naming the
 * file, dataset, expected vs found shape, and the fix) a wrong format or
 * version, a missing dataset or attribute, or a shape that does not match
 * the architecture implied by the block attributes; a missing file says how
 * to make it. On success *out is owned by the caller (effnet_free). */
int effnet_load(const char *path, struct effnet **out);

/* Frees a network from effnet_load (NULL is fine). */
void effnet_free(struct effnet *net);

/* Multiply-accumulates of one forward pass for one image at the native
 * size, up to the pooled features (classifier excluded). */
double effnet_macs(const struct effnet *net);

#endif
