/* test_gpu_parity.c - the cuDNN backbone against the CPU backbone (the
 * reference, itself checked against a naive double network and the numpy
 * reference in the nn tests). Skips (77) without a CUDA device.
 *
 * 1. A synthetic network built in memory (no file): odd side 17, stride-2
 *    blocks on odd and even sides (TF SAME asymmetric padding), kernel 3 and
 *    5, expand ratio 1, residuals; width 8/16/24 channels; random weights.
 * 2. The real Lite0 weights ($ASSORT_WEIGHTS or weights/efficientnet_lite0.h5
 *    under $ASSORT_SRC) on generated images and, when present, the sanity
 *    photos (.cache/sanity or $ASSORT_SANITY_DIR, bilinear-resized here; the
 *    same pixels go to both backends). Absent weights: noted, not failed,
 *    unless ASSORT_GPU_REQUIRE_WEIGHTS=1 (tools/device-check sets it).
 * Checks, for both depthwise paths (own kernel, cuDNN grouped conv), both
 * algorithm choices (find, heuristics) and a batch below max_batch:
 *    fp32: max |gpu - cpu| <= 1e-3 on features, logits top-1 equal;
 *    fp16, bf16: cosine(gpu, cpu) >= 0.999 per image; photos' top-1 equal.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dist/dist.h"
#include "ingest/image.h"
#include "ingest/resize.h"
#include "nn/backbone.h"
#include "nn/cudnn_device.h"
#include "nn/effnet.h"
#include "testlib.h"
#include "util/status.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float frand(float scale) { return scale * ((float)(rnd() >> 8) / 16777216.0f * 2.f - 1.f); }

static void conv_make(struct effnet_conv *c, int out, int k, int in, int stride, float scale) {
    c->out_ch = out, c->kernel = k, c->in_ch = in, c->stride = stride;
    size_t n = (size_t)out * k * k * in;
    c->weight = malloc(n * sizeof(float));
    c->bias = malloc((size_t)out * sizeof(float));
    for (size_t i = 0; i < n; i++) c->weight[i] = frand(scale);
    for (int i = 0; i < out; i++) c->bias[i] = frand(0.2f);
}

/* in, out, expand, kernel, stride, residual */
static const int SYN[][6] = {{8, 8, 1, 3, 1, 1},   {8, 16, 4, 3, 2, 0}, {16, 16, 3, 5, 1, 1},
                             {16, 24, 6, 5, 2, 0}, {24, 24, 2, 3, 1, 1}, {24, 16, 3, 3, 2, 0}};
#define SYN_BLOCKS ((int)(sizeof SYN / sizeof SYN[0]))

static struct effnet *synthetic_net(void) {
    struct effnet *n = calloc(1, sizeof *n);
    snprintf(n->model, sizeof n->model, "synthetic");
    n->image_size = 17, n->num_features = 40, n->num_classes = 10;
    const float mean[3] = {127.f, 110.f, 100.f}, sd[3] = {128.f, 64.f, 50.f};
    memcpy(n->input_mean, mean, sizeof mean);
    memcpy(n->input_std, sd, sizeof sd);
    conv_make(&n->stem, 8, 3, 3, 2, 0.4f);
    n->num_blocks = SYN_BLOCKS;
    n->blocks = calloc(SYN_BLOCKS, sizeof *n->blocks);
    for (int i = 0; i < SYN_BLOCKS; i++) {
        struct effnet_block *b = &n->blocks[i];
        b->in_ch = SYN[i][0], b->out_ch = SYN[i][1], b->expand_ratio = SYN[i][2];
        b->exp_ch = b->in_ch * b->expand_ratio, b->kernel = SYN[i][3], b->stride = SYN[i][4];
        b->residual = SYN[i][5];
        if (b->expand_ratio != 1) conv_make(&b->expand, b->exp_ch, 1, b->in_ch, 1, 0.5f);
        conv_make(&b->depthwise, b->exp_ch, b->kernel, 1, b->stride, 0.4f);
        conv_make(&b->project, b->out_ch, 1, b->exp_ch, 1, 0.3f);
    }
    conv_make(&n->head, 40, 1, 16, 1, 0.4f);
    conv_make(&n->classifier, 10, 1, 40, 1, 0.3f);
    return n;
}

static void free_conv(struct effnet_conv *c) { free(c->weight), free(c->bias); }
static void synthetic_free(struct effnet *n) {
    free_conv(&n->stem), free_conv(&n->head), free_conv(&n->classifier);
    for (int i = 0; i < n->num_blocks; i++) {
        free_conv(&n->blocks[i].expand), free_conv(&n->blocks[i].depthwise);
        free_conv(&n->blocks[i].project);
    }
    free(n->blocks);
    free(n);
}

static int argmax(const float *v, int n) {
    int m = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[m]) m = i;
    return m;
}

/* Runs `backend` on px (n images) into feats/logits. */
static int run(const char *backend, const struct effnet *net, const char *precision,
               int max_batch, const uint8_t *px, int n, float *feats, float *logits) {
    struct backbone *bb = NULL;
    struct backbone_opts o = {.threads = 0, .max_batch = max_batch, .precision = precision,
                              .device = 0};
    int rc = backbone_create(backend, net, &o, &bb);
    if (rc == ST_OK) rc = backbone_forward(bb, px, n, feats, logits);
    if (rc != ST_OK) fprintf(stderr, "%s/%s: %s\n", backend, precision ? precision : "-", err_msg());
    backbone_free(bb);
    return rc;
}

/* Compares one GPU configuration with the CPU results. `photos` of the n
 * images (the last ones) are real photos: their top-1 must not move. */
static void compare(const char *label, const struct effnet *net, const char *precision, int max_batch,
                    const uint8_t *px, int n, int photos, const float *cf, const float *cl) {
    const int F = net->num_features, C = net->num_classes;
    float *gf = malloc((size_t)n * F * sizeof(float)), *gl = malloc((size_t)n * C * sizeof(float));
    for (size_t i = 0; i < (size_t)n * F; i++) gf[i] = NAN; /* poison: every value must be written */
    int rc = run("cudnn", net, precision, max_batch, px, n, gf, gl);
    EXPECT(rc == ST_OK, "%s %s: %s", label, precision, err_msg());
    if (rc == ST_OK) {
        double maxabs = 0, mincos = 1;
        int top_moved = 0, photo_moved = 0;
        for (int b = 0; b < n; b++) {
            double dot = 0, na = 0, nb = 0;
            for (int j = 0; j < F; j++) {
                double a = gf[(size_t)b * F + j], c = cf[(size_t)b * F + j];
                double d = fabs(a - c);
                if (!(d <= maxabs)) maxabs = isnan(d) ? INFINITY : d;
                dot += a * c, na += a * a, nb += c * c;
            }
            double cs = dot / (sqrt(na * nb) + 1e-30);
            if (!(cs >= mincos)) mincos = isnan(cs) ? -2 : cs;
            int same = argmax(gl + (size_t)b * C, C) == argmax(cl + (size_t)b * C, C);
            if (!same) top_moved++;
            if (!same && b >= n - photos) photo_moved++;
        }
        printf("%-34s %-4s batch %3d/%3d: max|gpu-cpu| %.3g, min cosine %.6f, top-1 moved %d/%d "
               "(photos %d/%d)\n",
               label, precision, n, max_batch, maxabs, mincos, top_moved, n, photo_moved, photos);
        if (!strcmp(precision, "fp32")) {
            EXPECT(maxabs <= 1e-3, "%s fp32: max abs diff %g > 1e-3", label, maxabs);
            EXPECT(top_moved == 0, "%s fp32: top-1 moved on %d images", label, top_moved);
        } else {
            EXPECT(mincos >= 0.999, "%s %s: min cosine %.6f < 0.999", label, precision, mincos);
            EXPECT(photo_moved == 0, "%s %s: top-1 moved on %d photos", label, precision,
                   photo_moved);
        }
    }
    free(gf), free(gl);
}

/* All GPU configurations against one CPU run. */
static void check_all(const char *what, const struct effnet *net, const uint8_t *px, int n,
                      int photos) {
    const int F = net->num_features, C = net->num_classes;
    float *cf = malloc((size_t)n * F * sizeof(float)), *cl = malloc((size_t)n * C * sizeof(float));
    int rc = run("cpu", net, NULL, n, px, n, cf, cl);
    EXPECT(rc == ST_OK, "cpu reference: %s", err_msg());
    const char *prec[] = {"fp32", "fp16", "bf16"};
    const char *dw[] = {"own", "cudnn"};
    char label[96];
    for (int d = 0; rc == ST_OK && d < 2; d++) {
        setenv("ASSORT_GPU_DEPTHWISE", dw[d], 1);
        for (int p = 0; p < 3; p++) {
            snprintf(label, sizeof label, "%s dw=%s", what, dw[d]);
            compare(label, net, prec[p], n, px, n, photos, cf, cl);
        }
    }
    /* A batch below max_batch (another algorithm-cache entry) and cuDNN's heuristics. */
    if (rc == ST_OK) {
        setenv("ASSORT_GPU_DEPTHWISE", "own", 1);
        setenv("ASSORT_GPU_ALGO", "heuristic", 1);
        snprintf(label, sizeof label, "%s heuristic, max_batch+3", what);
        compare(label, net, "fp32", n + 3, px, n, photos, cf, cl);
        compare(label, net, "bf16", n + 3, px, n, photos, cf, cl);
        unsetenv("ASSORT_GPU_ALGO");
    }
    free(cf), free(cl);
}

/* Deterministic images: noise, gradient, flat grey, checkerboard, repeated. */
static void gen_pixels(uint8_t *px, int n, int s) {
    for (int b = 0; b < n; b++)
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                for (int c = 0; c < 3; c++) {
                    uint8_t v;
                    switch (b % 4) {
                    case 0: v = (uint8_t)(rnd() >> 24); break;
                    case 1: v = (uint8_t)((x * 255 / s + y * 128 / s + c * 60) & 255); break;
                    case 2: v = 128; break;
                    default: v = ((x / 4 + y / 4) & 1) ? 240 : 15; break;
                    }
                    px[(((size_t)b * s + y) * s + x) * 3 + c] = v;
                }
}

/* Decodes and resizes (bilinear, whole image, aspect not kept) one photo. */
static int load_photo(const char *path, int s, uint8_t *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)sz);
    int ok = fread(buf, 1, (size_t)sz, f) == (size_t)sz;
    fclose(f);
    struct image_opts o;
    struct image im = {0};
    image_opts_default(&o);
    ok = ok && image_decode(buf, (size_t)sz, &o, &im) == ST_OK;
    double box[4] = {0, 0, im.width, im.height};
    ok = ok && resize_region(im.pixels, im.width, im.height, box, s, s, RESIZE_BILINEAR, out,
                             (size_t)s * 3) == ST_OK;
    image_free(&im);
    free(buf);
    return ok;
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) return fprintf(stderr, "%s\n", err_msg()), 1;
    char why[256] = "", msg[512];
    if (gpu_device_count(why, sizeof why) == 0) {
        snprintf(msg, sizeof msg, "no CUDA device (%s); the GPU parity checks need one", why);
        dist_finalize();
        test_skip(msg);
    }
    gpu_describe(0, msg, sizeof msg);
    printf("%s\n", msg);

    /* 1. synthetic network */
    struct effnet *syn = synthetic_net();
    const int sn = 6;
    uint8_t *spx = malloc((size_t)sn * 17 * 17 * 3);
    gen_pixels(spx, sn, 17);
    check_all("synthetic", syn, spx, sn, 0);
    free(spx);
    synthetic_free(syn);

    /* 2. real Lite0 weights */
    char wpath[1024];
    const char *src = getenv("ASSORT_SRC") ? getenv("ASSORT_SRC") : ".";
    if (getenv("ASSORT_WEIGHTS")) snprintf(wpath, sizeof wpath, "%s", getenv("ASSORT_WEIGHTS"));
    else snprintf(wpath, sizeof wpath, "%s/weights/efficientnet_lite0.h5", src);
    struct stat st;
    const char *require = getenv("ASSORT_GPU_REQUIRE_WEIGHTS");
    if (stat(wpath, &st) != 0) {
        printf("note: %s absent: real-weights parity not run\n", wpath);
        EXPECT(!(require && !strcmp(require, "1")), "ASSORT_GPU_REQUIRE_WEIGHTS=1 but %s is absent",
               wpath);
    } else {
        struct effnet *net = NULL;
        EXPECT_INT(effnet_load(wpath, &net), ST_OK);
        if (net) {
            const int s = net->image_size, gen = 8;
            const char *photos[] = {"grace_hopper.jpg", "chelsea.png", "coffee.png", "china.jpg"};
            char dir[1024], p[1200];
            if (getenv("ASSORT_SANITY_DIR")) snprintf(dir, sizeof dir, "%s", getenv("ASSORT_SANITY_DIR"));
            else snprintf(dir, sizeof dir, "%s/.cache/sanity", src);
            uint8_t *px = malloc((size_t)(gen + 4) * s * s * 3);
            gen_pixels(px, gen, s);
            int n = gen;
            for (int i = 0; i < 4; i++) {
                snprintf(p, sizeof p, "%s/%s", dir, photos[i]);
                if (load_photo(p, s, px + (size_t)n * s * s * 3)) n++;
            }
            printf("real weights %s: %d generated images, %d sanity photos from %s\n", wpath, gen,
                   n - gen, dir);
            check_all("lite0", net, px, n, n - gen);
            free(px);
            effnet_free(net);
        }
    }
    int rc = TEST_END();
    dist_finalize();
    return rc;
}
