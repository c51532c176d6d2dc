/* test_nn_effnet.c - the weights loader and the whole CPU network on a small
 * synthetic EfficientNet-Lite written here with the HDF5 C API:
 *   - load accepts the documented layout; refuses a wrong shape, a missing
 *     dataset, a wrong format_version and a missing file with a message that
 *     names the file/dataset and the fix;
 *   - the forward pass equals a naive double-precision network written here
 *     from the layout description (TF SAME padding, ReLU6, residuals, pool,
 *     classifier) on an odd and an even input size path;
 *   - features of an image are bit-identical alone or in a batch, with 1 or 2
 *     threads, and in both threading modes. */
#include <hdf5.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "nn/backbone.h"
#include "nn/effnet.h"
#include "testlib.h"
#include "util/status.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / (double)(1ull << 24)) * 2.f - 1.f;
}

/* ---- the synthetic model -------------------------------------------------- */
enum { SIDE = 17, STEM = 8, FEATS = 20, CLASSES = 7, NB = 4 };
static const int blk[NB][6] = {/* in, out, expand, kernel, stride, residual */
                               {8, 8, 1, 3, 1, 1},
                               {8, 12, 3, 5, 2, 0},
                               {12, 12, 2, 3, 1, 1},
                               {12, 16, 4, 5, 2, 0}};
static const float MEAN[3] = {127.f, 110.f, 100.f}, STDV[3] = {128.f, 64.f, 50.f};

static void attr_int(hid_t obj, const char *name, int v) {
    hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Sclose(s);
}
static void attr_str(hid_t obj, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &v);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
}
static void attr_f3(hid_t obj, const char *name, const float *v) {
    hsize_t d = 3;
    hid_t s = H5Screate_simple(1, &d, NULL), a = H5Acreate2(obj, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_FLOAT, v);
    H5Aclose(a);
    H5Sclose(s);
}
/* Writes random data of the given shape, scaled so activations stay O(1). */
static void put(hid_t f, const char *path, int rank, const hsize_t *dims, float scale) {
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = frand() * scale;
    hid_t lc = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lc, 1);
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, path, H5T_IEEE_F32LE, s, lc, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(s);
    H5Pclose(lc);
    free(v);
}
static void put_conv(hid_t f, const char *g, int o, int k, int i, int bad_dim0) {
    char p[160]; /* g is at most 96 bytes (callers' buffers) + "/weight" */
    hsize_t w[4] = {(hsize_t)(o + bad_dim0), (hsize_t)k, (hsize_t)k, (hsize_t)i}, b[1] = {(hsize_t)o};
    snprintf(p, sizeof p, "%.96s/weight", g);
    put(f, p, 4, w, 1.5f / sqrtf((float)(k * k * i)));
    snprintf(p, sizeof p, "%.96s/bias", g);
    put(f, p, 1, b, 0.2f);
}

/* flaw: 0 good, 1 wrong depthwise shape in block 01, 2 no project bias in
 * block 02, 3 format_version 2 */
static void write_model(const char *path, int flaw) {
    rng = 0x243f6a8885a308d3ull; /* same weights every time */
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    attr_str(f, "format", "assort-weights");
    attr_int(f, "format_version", flaw == 3 ? 2 : 1);
    attr_str(f, "model", "efficientnet-test");
    attr_str(f, "activation", "relu6");
    attr_int(f, "image_size", SIDE);
    attr_int(f, "num_features", FEATS);
    attr_int(f, "num_classes", CLASSES);
    attr_int(f, "num_blocks", NB);
    attr_f3(f, "input_mean", MEAN);
    attr_f3(f, "input_std", STDV);
    put_conv(f, "/stem", STEM, 3, 3, 0);
    hid_t g = H5Gopen2(f, "/stem", H5P_DEFAULT);
    attr_int(g, "stride", 2);
    attr_int(g, "kernel", 3);
    H5Gclose(g);
    for (int i = 0; i < NB; i++) {
        char gn[64], sub[96];
        int in = blk[i][0], out = blk[i][1], e = blk[i][2], exp = in * e;
        snprintf(gn, sizeof gn, "/blocks/%02d", i);
        if (e != 1) {
            snprintf(sub, sizeof sub, "%s/expand", gn);
            put_conv(f, sub, exp, 1, in, 0);
        }
        snprintf(sub, sizeof sub, "%s/depthwise", gn);
        put_conv(f, sub, exp, blk[i][3], 1, flaw == 1 && i == 1 ? 1 : 0);
        snprintf(sub, sizeof sub, "%s/project", gn);
        if (flaw == 2 && i == 2) {
            hsize_t w[4] = {(hsize_t)out, 1, 1, (hsize_t)exp};
            snprintf(sub, sizeof sub, "%s/project/weight", gn);
            put(f, sub, 4, w, 0.3f);
        } else {
            put_conv(f, sub, out, 1, exp, 0);
        }
        g = H5Gopen2(f, gn, H5P_DEFAULT);
        attr_int(g, "in_channels", in);
        attr_int(g, "out_channels", out);
        attr_int(g, "expand_ratio", e);
        attr_int(g, "kernel", blk[i][3]);
        attr_int(g, "stride", blk[i][4]);
        attr_int(g, "residual", blk[i][5]);
        H5Gclose(g);
    }
    put_conv(f, "/head", FEATS, 1, blk[NB - 1][1], 0);
    hsize_t cw[2] = {CLASSES, FEATS}, cb[1] = {CLASSES};
    put(f, "/classifier/weight", 2, cw, 0.3f);
    put(f, "/classifier/bias", 1, cb, 0.1f);
    H5Fclose(f);
}

/* ---- naive reference network (double) ------------------------------------ */
static void ref_pad(int in, int k, int s, int *out, int *before) {
    *out = (in + s - 1) / s;
    int need = (*out - 1) * s + k - in;
    *before = need > 0 ? need / 2 : 0;
}
/* in (h, w, cin); OHWI weights; depthwise uses w (c, k, k, 1). */
static double *ref_conv(const double *in, int h, int w, int cin, const struct effnet_conv *c,
                        int depthwise, int relu6, int *oh_out) {
    int k = c->kernel, s = c->stride, oh, ow, pt, pl;
    ref_pad(h, k, s, &oh, &pt);
    ref_pad(w, k, s, &ow, &pl);
    double *out = calloc((size_t)oh * ow * c->out_ch, sizeof *out);
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            for (int o = 0; o < c->out_ch; o++) {
                double acc = c->bias[o];
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int iy = y * s + ky - pt, ix = x * s + kx - pl;
                        if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
                        const double *p = in + ((size_t)iy * w + ix) * cin;
                        if (depthwise)
                            acc += p[o] * c->weight[((size_t)o * k + ky) * k + kx];
                        else
                            for (int i = 0; i < cin; i++)
                                acc += p[i] * c->weight[(((size_t)o * k + ky) * k + kx) * cin + i];
                    }
                if (relu6) acc = acc < 0 ? 0 : (acc > 6 ? 6 : acc);
                out[((size_t)y * ow + x) * c->out_ch + o] = acc;
            }
    *oh_out = oh;
    return out;
}
static void ref_forward(const struct effnet *net, const uint8_t *px, double *feat, double *logit) {
    int S = net->image_size, h;
    double *x = malloc((size_t)S * S * 3 * sizeof *x);
    for (int i = 0; i < S * S * 3; i++) x[i] = (px[i] - MEAN[i % 3]) / STDV[i % 3];
    double *y = ref_conv(x, S, S, 3, &net->stem, 0, 1, &h);
    free(x);
    int ch = net->stem.out_ch;
    for (int i = 0; i < net->num_blocks; i++) {
        const struct effnet_block *b = &net->blocks[i];
        double *e = y;
        int oh;
        if (b->expand_ratio != 1) e = ref_conv(y, h, h, ch, &b->expand, 0, 1, &oh);
        double *d = ref_conv(e, h, h, b->exp_ch, &b->depthwise, 1, 1, &oh);
        double *p = ref_conv(d, oh, oh, b->exp_ch, &b->project, 0, 0, &oh);
        if (b->residual)
            for (int j = 0; j < oh * oh * b->out_ch; j++) p[j] += y[j];
        if (e != y) free(e);
        free(d);
        free(y);
        y = p;
        h = oh;
        ch = b->out_ch;
    }
    double *hd = ref_conv(y, h, h, ch, &net->head, 0, 1, &h);
    for (int j = 0; j < FEATS; j++) {
        feat[j] = 0;
        for (int p = 0; p < h * h; p++) feat[j] += hd[(size_t)p * FEATS + j];
        feat[j] /= h * h;
    }
    for (int o = 0; o < CLASSES; o++) {
        logit[o] = net->classifier.bias[o];
        for (int j = 0; j < FEATS; j++) logit[o] += feat[j] * net->classifier.weight[o * FEATS + j];
    }
    free(y);
    free(hd);
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

int main(void) {
    char dir[] = "/tmp/test_nn_effnet.XXXXXX", path[128], bad[128];
    if (!mkdtemp(dir)) test_skip("cannot make a temporary directory");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our own failures are expected below */
    snprintf(path, sizeof path, "%s/m.h5", dir);
    write_model(path, 0);

    /* names */
    char wp[256];
    EXPECT_INT(effnet_weights_path("weights", "lite1", wp, sizeof wp), ST_OK);
    EXPECT_STR(wp, "weights/efficientnet_lite1.h5");
    EXPECT_INT(effnet_weights_path("w", "efficientnet-lite2", wp, sizeof wp), ST_OK);
    EXPECT_STR(wp, "w/efficientnet_lite2.h5");
    EXPECT_INT(effnet_weights_path("w", "lite7", wp, sizeof wp), ST_USAGE);

    /* refusals */
    struct effnet *net = NULL;
    snprintf(bad, sizeof bad, "%s/none.h5", dir);
    EXPECT_INT(effnet_load(bad, &net), ST_DATA);
    EXPECT(contains(err_msg(), "tools/import-weights") && contains(err_msg(), "none.h5"), "%s", err_msg());
    const char *want[] = {NULL, "/blocks/01/depthwise/weight has shape (25, 5, 5, 1), expected (24, 5, 5, 1)",
                          "/blocks/02/project/bias missing", "format_version is 2"};
    for (int flaw = 1; flaw <= 3; flaw++) {
        snprintf(bad, sizeof bad, "%s/bad%d.h5", dir, flaw);
        write_model(bad, flaw);
        EXPECT_INT(effnet_load(bad, &net), ST_DATA);
        EXPECT(net == NULL, "no network on failure");
        EXPECT(contains(err_msg(), want[flaw]) && contains(err_msg(), "import-weights") &&
                   contains(err_msg(), bad), "flaw %d: %s", flaw, err_msg());
        unlink(bad);
    }

    /* load */
    int rc = effnet_load(path, &net);
    EXPECT(rc == ST_OK, "load: %s", err_msg());
    if (rc != ST_OK) return TEST_END();
    EXPECT_INT(net->num_blocks, NB);
    EXPECT_INT(net->blocks[1].exp_ch, 24);
    EXPECT_INT(net->blocks[3].stride, 2);
    EXPECT_STR(net->model, "efficientnet-test");

    /* backends */
    struct backbone *bb = NULL;
    struct backbone_opts o1 = {.threads = 1, .max_batch = 5};
    EXPECT_INT(backbone_create("cudnn-nope", net, &o1, &bb), ST_USAGE);

    /* forward vs the naive network */
    enum { B = 5 };
    const size_t img = SIDE * SIDE * 3;
    uint8_t *px = malloc(B * img);
    for (size_t i = 0; i < B * img; i++) px[i] = (uint8_t)(frand() * 127.5f + 128.f);
    float feat[B][FEATS], logit[B][CLASSES], one[FEATS], lone[CLASSES];
    EXPECT_INT(backbone_create("cpu", net, &o1, &bb), ST_OK);
    EXPECT_STR(backbone_name(bb), "cpu");
    EXPECT_INT(backbone_forward(bb, px, B + 1, &feat[0][0], NULL), ST_USAGE);
    EXPECT_INT(backbone_forward(bb, px, B, &feat[0][0], &logit[0][0]), ST_OK);
    double worst_f = 0, worst_l = 0, feat_max = 0;
    int same = 1;
    for (int b = 0; b < B; b++) {
        double rf[FEATS], rl[CLASSES];
        ref_forward(net, px + b * img, rf, rl);
        for (int j = 0; j < FEATS; j++) {
            worst_f = fmax(worst_f, fabs(rf[j] - feat[b][j]));
            feat_max = fmax(feat_max, fabs(rf[j]));
        }
        for (int j = 0; j < CLASSES; j++) worst_l = fmax(worst_l, fabs(rl[j] - logit[b][j]));
        /* alone in a batch of one: bit-identical */
        backbone_forward(bb, px + b * img, 1, one, lone);
        same &= memcmp(one, feat[b], sizeof one) == 0 && memcmp(lone, logit[b], sizeof lone) == 0;
    }
    EXPECT(feat_max > 0.05, "reference features are not all ~0 (max %g)", feat_max);
    EXPECT(worst_f <= 1e-4, "features vs naive network: max diff %g", worst_f);
    EXPECT(worst_l <= 1e-4, "logits vs naive network: max diff %g", worst_l);
    EXPECT(same, "an image's features/logits differ alone vs in a batch");
    backbone_free(bb);

    /* Fused blocks (expand + depthwise + project row by row; this network's
     * sides are below the default threshold, so fuse every block): the same
     * bits as layer by layer, alone, and in image-parallel workers. */
    for (int threads = 1; threads <= 2; threads++) {
        struct backbone_opts of = {.threads = threads, .max_batch = B, .cpu_fuse_side = 1};
        float ff[B][FEATS], lf[B][CLASSES];
        EXPECT_INT(backbone_create("cpu", net, &of, &bb), ST_OK);
        EXPECT_INT(backbone_forward(bb, px, B, &ff[0][0], &lf[0][0]), ST_OK);
        EXPECT(memcmp(ff, feat, sizeof ff) == 0 && memcmp(lf, logit, sizeof lf) == 0,
               "fused blocks (%d threads) differ from layer by layer", threads);
        backbone_free(bb);
    }

    /* OpenBLAS for every 1x1 conv (what CPUs without AVX-512 run): the same
     * reference tolerance. */
    struct backbone_opts ob = {.threads = 1, .max_batch = B, .cpu_blas_only = 1};
    float fb[B][FEATS], lb[B][CLASSES];
    EXPECT_INT(backbone_create("cpu", net, &ob, &bb), ST_OK);
    EXPECT_INT(backbone_forward(bb, px, B, &fb[0][0], &lb[0][0]), ST_OK);
    double worst_b = 0;
    for (int b = 0; b < B; b++) {
        double rf[FEATS], rl[CLASSES];
        ref_forward(net, px + b * img, rf, rl);
        for (int j = 0; j < FEATS; j++) worst_b = fmax(worst_b, fabs(rf[j] - fb[b][j]));
        for (int j = 0; j < CLASSES; j++) worst_b = fmax(worst_b, fabs(rl[j] - lb[b][j]));
    }
    EXPECT(worst_b <= 1e-4, "OpenBLAS-only network vs naive network: max diff %g", worst_b);
    backbone_free(bb);

    /* 2 threads: layer-parallel (batch 3 < 2T... batch 2) and image-parallel
     * (batch 5 >= 4), with sub-batches of 1 and 2 - all bit-identical. */
    for (int sub = 1; sub <= 2; sub++) {
        struct backbone_opts o2 = {.threads = 2, .max_batch = B, .sub_batch = sub};
        float f2[B][FEATS];
        EXPECT_INT(backbone_create("cpu", net, &o2, &bb), ST_OK);
        EXPECT_INT(backbone_forward(bb, px, B, &f2[0][0], NULL), ST_OK);
        EXPECT(memcmp(f2, feat, sizeof f2) == 0, "image-parallel (sub %d) differs from 1 thread", sub);
        EXPECT_INT(backbone_forward(bb, px, 2, &f2[0][0], NULL), ST_OK);
        EXPECT(memcmp(f2, feat, 2 * sizeof f2[0]) == 0, "layer-parallel (sub %d) differs", sub);
        backbone_free(bb);
    }
    effnet_free(net);
    free(px);
    unlink(path);
    rmdir(dir);
    return TEST_END();
}
