/* test_nn_features.c - test helper (not a ctest test by itself): runs the CPU
 * backbone on raw pixels from a .npy file and writes features/logits as .npy,
 * so script tests can compare against tools/ref/effnet_ref.py.
 *
 *   test_nn_features WEIGHTS.h5 PIXELS.npy FEATURES.npy [LOGITS.npy]
 *                    [--batch N] [--threads T] [--sub-batch S]
 *
 * PIXELS.npy: (N, S, S, 3) uint8, C order, S = the weights' image_size.
 * Output: FEATURES.npy (N, num_features) <f4, LOGITS.npy (N, num_classes) <f4.
 * A minimal .npy v1/v2 reader: only what numpy.save writes for these arrays. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backbone.h"
#include "nn/effnet.h"
#include "util/status.h"

static int npy_read_u8(const char *path, int dims[4], uint8_t **data) {
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "%s: cannot open\n", path), 1;
    unsigned char magic[8];
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0)
        return fclose(f), fprintf(stderr, "%s: not a .npy file\n", path), 1;
    uint32_t hlen = 0;
    unsigned char l[4] = {0};
    if (magic[6] == 1) {
        if (fread(l, 1, 2, f) != 2) return fclose(f), 1;
        hlen = l[0] | (uint32_t)l[1] << 8;
    } else {
        if (fread(l, 1, 4, f) != 4) return fclose(f), 1;
        hlen = l[0] | (uint32_t)l[1] << 8 | (uint32_t)l[2] << 16 | (uint32_t)l[3] << 24;
    }
    char *hdr = calloc(hlen + 1, 1);
    if (!hdr || fread(hdr, 1, hlen, f) != hlen) return fclose(f), free(hdr), 1;
    int ok = (strstr(hdr, "'|u1'") || strstr(hdr, "'<u1'")) &&
             strstr(hdr, "'fortran_order': False");
    char *sh = strstr(hdr, "'shape': (");
    if (!ok || !sh ||
        sscanf(sh, "'shape': (%d, %d, %d, %d)", &dims[0], &dims[1], &dims[2], &dims[3]) != 4) {
        fprintf(stderr, "%s: need a C-order uint8 array of shape (N, S, S, 3); header: %s\n",
                path, hdr);
        return fclose(f), free(hdr), 1;
    }
    free(hdr);
    size_t n = (size_t)dims[0] * dims[1] * dims[2] * dims[3];
    *data = malloc(n ? n : 1);
    if (!*data || fread(*data, 1, n, f) != n)
        return fclose(f), fprintf(stderr, "%s: short file\n", path), 1;
    fclose(f);
    return 0;
}

static int npy_write_f32(const char *path, const float *data, int rows, int cols) {
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }",
                     rows, cols);
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) return fprintf(stderr, "%s: cannot write\n", path), 1;
    uint16_t hl = (uint16_t)(n + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned char l[2] = {(unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    fwrite(l, 1, 2, f);
    fwrite(hdr, 1, (size_t)n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    size_t cnt = (size_t)rows * cols;
    int bad = fwrite(data, sizeof(float), cnt, f) != cnt;
    bad |= fclose(f) != 0;
    return bad;
}

int main(int argc, char **argv) {
    const char *pos[4] = {0};
    int npos = 0, batch = 8, threads = 0, sub = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sub-batch") && i + 1 < argc) sub = atoi(argv[++i]);
        else if (npos < 4) pos[npos++] = argv[i];
    }
    if (npos < 3) {
        fprintf(stderr, "usage: %s WEIGHTS.h5 PIXELS.npy FEATURES.npy [LOGITS.npy] "
                        "[--batch N] [--threads T] [--sub-batch S]\n", argv[0]);
        return 2;
    }
    struct effnet *net = NULL;
    struct backbone *bb = NULL;
    int dims[4];
    uint8_t *px = NULL;
    if (effnet_load(pos[0], &net) != ST_OK) return fprintf(stderr, "%s\n", err_msg()), 3;
    if (npy_read_u8(pos[1], dims, &px)) return 3;
    if (dims[1] != net->image_size || dims[2] != net->image_size || dims[3] != 3) {
        fprintf(stderr, "%s: images are %dx%dx%d, the network needs %dx%dx3\n", pos[1], dims[1],
                dims[2], dims[3], net->image_size, net->image_size);
        return 3;
    }
    int n = dims[0];
    struct backbone_opts opts = {.threads = threads, .max_batch = batch, .sub_batch = sub};
    if (backbone_create("cpu", net, &opts, &bb) != ST_OK)
        return fprintf(stderr, "%s\n", err_msg()), 1;
    float *feats = malloc((size_t)(n ? n : 1) * net->num_features * sizeof(float));
    float *logits = malloc((size_t)(n ? n : 1) * net->num_classes * sizeof(float));
    size_t img = (size_t)net->image_size * net->image_size * 3;
    for (int b0 = 0; b0 < n; b0 += batch) {
        int m = n - b0 < batch ? n - b0 : batch;
        if (backbone_forward(bb, px + b0 * img, m, feats + (size_t)b0 * net->num_features,
                             logits + (size_t)b0 * net->num_classes) != ST_OK)
            return fprintf(stderr, "%s\n", err_msg()), 1;
    }
    int bad = npy_write_f32(pos[2], feats, n, net->num_features);
    if (npos > 3) bad |= npy_write_f32(pos[3], logits, n, net->num_classes);
    backbone_free(bb);
    effnet_free(net);
    free(px);
    free(feats);
    free(logits);
    return bad;
}
