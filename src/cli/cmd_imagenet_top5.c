/* cmd_imagenet_top5.c - `assort imagenet-top5 IMAGE...`: the backbone's own
 * ImageNet-1k classifier on photos (a sanity check of the network and the
 * weights, and handy to see what the features "see").
 *
 * Geometry: the whole decoded image (EXIF orientation applied, alpha over
 * white) is resampled to the network's native S x S (224/240/260) with the
 * bilinear filter of Pillow's Image.resize(BILINEAR), aspect ratio NOT kept
 * (the same geometry as tools/ref/effnet_ref.py's load_images). Then the
 * network's own input normalisation, logits, softmax. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "cli/cli.h"
#include "commands.h"
#include "dist/dist.h"
#include "ingest/image.h"
#include "ingest/resize.h"
#include "nn/backbone.h"
#include "nn/effnet.h"
#include "util/check.h"
#include "util/fsutil.h"

/* Decodes `path` and resamples it to (side, side, 3) into out. */
static int load_square(const char *path, int side, uint8_t *out, int *w, int *h) {
    int rc = ST_OK;
    char *bytes = NULL;
    size_t n = 0;
    struct image im = {0};
    TRY(fs_read_all(path, &bytes, &n));
    rc = image_decode(bytes, n, NULL, &im);
    if (rc != ST_OK) FAIL(rc, "%s: %s", path, err_msg());
    const double box[4] = {0, 0, im.width, im.height};
    TRY(resize_region(im.pixels, im.width, im.height, box, side, side, RESIZE_BILINEAR, out,
                      (size_t)side * 3));
    *w = im.width, *h = im.height;
fail:
    image_free(&im);
    free(bytes);
    return rc;
}

int cmd_imagenet_top5(int argc, char **argv) {
    static const struct cli_cmd self = {
        "imagenet-top5", "IMAGE...", "top-5 ImageNet classes of photos (checks the backbone)",
        "Decodes each JPEG/PNG, resamples the whole picture to the network's native\n"
        "side (224/240/260, bilinear, aspect not kept), runs the backbone and its\n"
        "1000-way ImageNet classifier, and prints one block per image: the 5 most\n"
        "probable class indices (0-based ImageNet-1k) with their softmax probability.\n\n"
        "example:\n"
        "  assort imagenet-top5 --backbone lite0 .cache/sanity/grace_hopper.jpg",
        NULL};
    const char *backbone = NULL, *device = NULL;
    const struct cli_opt opts[] = {
        {"backbone", 0, CLI_STR, &backbone, "lite0|lite1|lite2",
         "network (default: extract.backbone)"},
        {"device", 0, CLI_STR, &device, "cpu|gpu|auto", "where to run (default: cpu)"},
        CLI_OPT_END};
    struct cli_ctx ctx;
    struct effnet *net = NULL;
    struct backbone *bb = NULL;
    uint8_t *px = NULL;
    float *feat = NULL, *logits = NULL;
    char wpath[4096];
    int rc = cli_parse(&ctx, &self, opts, argc, argv, 1, -1);
    if (rc != ST_OK) goto fail;
    TRY(cli_load_config(&ctx));
    if (dist_rank() != 0) goto fail; /* one process does the work */
    const char *bname = backbone ? backbone : ctx.cfg->extract.backbone;
    TRY(effnet_weights_path(ctx.cfg->extract.weights_dir, bname, wpath, sizeof wpath));
    TRY(effnet_load(wpath, &net));
    struct backbone_opts o = {.threads = ctx.cfg->run.threads, .max_batch = 1};
    const char *dev = device ? device : "cpu";
    if (!strcmp(dev, "gpu") || !strcmp(dev, "auto")) {
        o.precision = "fp32";
        int st = backbone_create("cudnn", net, &o, &bb);
        char why[512];
        snprintf(why, sizeof why, "%s", err_msg());
        if (st != ST_OK && !strcmp(dev, "gpu"))
            FAIL(ST_USAGE, "--device gpu: the GPU backend is not usable (%s); use --device cpu",
                 why);
        err_clear();
        o.precision = NULL;
    } else if (strcmp(dev, "cpu")) {
        FAIL(ST_USAGE, "--device %s: expected cpu, gpu or auto", dev);
    }
    if (!bb) TRY(backbone_create("cpu", net, &o, &bb));
    int S = net->image_size, C = net->num_classes;
    TRY_ALLOC(px = malloc((size_t)S * S * 3));
    TRY_ALLOC(feat = malloc((size_t)net->num_features * sizeof(float)));
    TRY_ALLOC(logits = malloc((size_t)C * sizeof(float)));
    for (int k = 0; k < ctx.n_pos; k++) {
        int w = 0, h = 0;
        TRY(load_square(ctx.pos[k], S, px, &w, &h));
        TRY(backbone_forward(bb, px, 1, feat, logits));
        double mx = logits[0], sum = 0;
        for (int c = 1; c < C; c++) mx = logits[c] > mx ? logits[c] : mx;
        for (int c = 0; c < C; c++) sum += exp((double)logits[c] - mx);
        int top[5];
        for (int t = 0; t < 5; t++) {
            int best = -1;
            for (int c = 0; c < C; c++) {
                int used = 0;
                for (int u = 0; u < t; u++) used |= top[u] == c;
                if (!used && (best < 0 || logits[c] > logits[best])) best = c;
            }
            top[t] = best;
        }
        printf("%s (%dx%d -> %dx%d, %s on %s)\n", ctx.pos[k], w, h, S, S, net->model,
               backbone_name(bb));
        for (int t = 0; t < 5; t++)
            printf("  %d. class %4d  p=%.4f\n", t + 1, top[t],
                   exp((double)logits[top[t]] - mx) / sum);
    }
    fflush(stdout);
fail:
    cli_fail_fast(&self, rc);
    free(px), free(feat), free(logits);
    backbone_free(bb);
    effnet_free(net);
    cli_ctx_free(&ctx);
    return rc;
}
