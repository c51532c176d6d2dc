/* bench_gpu.c - images/s of a backbone end to end from an HDF5 catalog:
 * a reader thread reads batch i+1 (rows of /images/pixels, uint8) into one
 * of two page-locked buffers while the backbone computes batch i; features
 * come back to host memory (not written). Also times the backbone alone on
 * a resident batch (no I/O) to show what the reading costs.
 *
 *   bench_gpu [--device auto|cpu|gpu] [--weights W.h5] [--catalog C.h5]
 *             [--make N] [--batch 256] [--iters 20] [--precision bf16]
 *             [--json OUT.json]
 *
 * --make N writes a catalog-like file at --catalog first (N random images,
 * chunk = one image; not timed) when the file does not exist, so the GPU
 * session needs no ingest. One rank; device choice as in docs/gpu.md.
 * Exit 2 (usage) for --device gpu without a CUDA device. */
#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dist/dist.h"
#include "nn/backbone.h"
#include "nn/cudnn_device.h"
#include "nn/effnet.h"
#include "util/check.h"
#include "util/log.h"
#include "util/status.h"

#define PIXELS "/images/pixels"

/* Writes N random images (N, S, S, 3) at `path`/images/pixels. */
static int make_file(const char *path, int n, int s) {
    int rc = ST_OK;
    hid_t f = -1, g = -1, sp = -1, dcpl = -1, d = -1;
    uint8_t *img = NULL;
    hsize_t dims[4] = {(hsize_t)n, (hsize_t)s, (hsize_t)s, 3}, chunk[4] = {1, (hsize_t)s, (hsize_t)s, 3};
    TRY_H5(f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    TRY_H5(g = H5Gcreate2(f, "/images", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    TRY_H5(sp = H5Screate_simple(4, dims, NULL));
    TRY_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE));
    TRY_H5(H5Pset_chunk(dcpl, 4, chunk));
    TRY_H5(d = H5Dcreate2(f, PIXELS, H5T_NATIVE_UINT8, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    TRY_ALLOC(img = malloc((size_t)s * s * 3));
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < (size_t)s * s * 3; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            img[j] = (uint8_t)(x >> 56);
        }
        hsize_t start[4] = {(hsize_t)i, 0, 0, 0}, cnt[4] = {1, (hsize_t)s, (hsize_t)s, 3};
        hid_t ms = H5Screate_simple(4, cnt, NULL);
        herr_t e1 = H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, cnt, NULL);
        herr_t e2 = H5Dwrite(d, H5T_NATIVE_UINT8, ms, sp, H5P_DEFAULT, img);
        H5Sclose(ms);
        TRY_H5(e1);
        TRY_H5(e2);
    }
fail:
    free(img);
    if (d >= 0) H5Dclose(d);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    return rc;
}

/* Two-slot pipeline between the reader thread and the compute loop. */
struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    hid_t dset, space;
    int64_t rows;          /* images in the file */
    int batch, side, iters;
    uint8_t *slot[2];      /* (batch, side, side, 3) page-locked when on a GPU */
    int full[2];           /* 1: slot holds batch `which[k]` ready to compute */
    int err;
};

static void *reader(void *arg) {
    struct pipe *p = arg;
    for (int it = 0; it < p->iters; it++) {
        int k = it & 1;
        pthread_mutex_lock(&p->mu);
        while (p->full[k] && !p->err) pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        if (p->err) break;
        int64_t first = ((int64_t)it * p->batch) % (p->rows - p->batch + 1);
        hsize_t start[4] = {(hsize_t)first, 0, 0, 0};
        hsize_t cnt[4] = {(hsize_t)p->batch, (hsize_t)p->side, (hsize_t)p->side, 3};
        hid_t ms = H5Screate_simple(4, cnt, NULL);
        int bad = H5Sselect_hyperslab(p->space, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
                  H5Dread(p->dset, H5T_NATIVE_UINT8, ms, p->space, H5P_DEFAULT, p->slot[k]) < 0;
        H5Sclose(ms);
        pthread_mutex_lock(&p->mu);
        if (bad) p->err = 1;
        p->full[k] = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (bad) break;
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *device = "auto", *weights = "weights/efficientnet_lite0.h5", *precision = "bf16";
    const char *catalog = "/tmp/assort_bench_gpu.h5", *json = NULL;
    int batch = 256, iters = 20, make = 0;
    if (dist_init(&argc, &argv) != ST_OK) return fprintf(stderr, "%s\n", err_msg()), 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc) weights = argv[++i];
        else if (!strcmp(argv[i], "--catalog") && i + 1 < argc) catalog = argv[++i];
        else if (!strcmp(argv[i], "--make") && i + 1 < argc) make = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) precision = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else {
            fprintf(stderr, "usage: bench_gpu [--device auto|cpu|gpu] [--weights W] [--catalog C.h5] "
                            "[--make N] [--batch N] [--iters N] [--precision fp32|fp16|bf16] "
                            "[--json OUT]\n");
            dist_finalize();
            return ST_USAGE;
        }
    }
    int rc = ST_OK, use_gpu = 0, dev = -1;
    struct effnet *net = NULL;
    struct backbone *bb = NULL;
    struct pipe p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
                     .dset = -1, .space = -1};
    hid_t file = -1;
    float *feats = NULL;
    char desc[512] = "cpu";
    double e2e = 0, gpu_only = 0;

    /* The device first: --device gpu without one fails before any file work. */
    TRY(gpu_select(device, &use_gpu, &dev));
    if (use_gpu) gpu_describe(dev, desc, sizeof desc);
    TRY(effnet_load(weights, &net));
    struct stat st;
    if (stat(catalog, &st) != 0) {
        REQUIRE(make > 0, ST_USAGE, "%s does not exist; pass --make N to write N random images there",
                catalog);
        log_info("bench", "writing %d random %dx%d images to %s", make, net->image_size,
                 net->image_size, catalog);
        TRY(make_file(catalog, make, net->image_size));
    }
    TRY_H5(file = H5Fopen(catalog, H5F_ACC_RDONLY, H5P_DEFAULT));
    TRY_H5(p.dset = H5Dopen2(file, PIXELS, H5P_DEFAULT));
    TRY_H5(p.space = H5Dget_space(p.dset));
    {
        hsize_t dims[4];
        REQUIRE(H5Sget_simple_extent_ndims(p.space) == 4, ST_DATA, "%s: %s is not 4-D", catalog, PIXELS);
        H5Sget_simple_extent_dims(p.space, dims, NULL);
        REQUIRE(dims[1] == (hsize_t)net->image_size && dims[2] == dims[1] && dims[3] == 3, ST_DATA,
                "%s: %s has images of %llux%llu, %s needs %d; re-make it with --make", catalog,
                PIXELS, (unsigned long long)dims[1], (unsigned long long)dims[2], net->model,
                net->image_size);
        REQUIRE(dims[0] >= (hsize_t)batch, ST_DATA, "%s: %llu images, fewer than one batch of %d",
                catalog, (unsigned long long)dims[0], batch);
        p.rows = (int64_t)dims[0];
    }
    p.batch = batch, p.side = net->image_size, p.iters = iters + 1; /* +1: warm-up */
    struct backbone_opts o = {.threads = 0, .max_batch = batch, .precision = precision, .device = dev};
    TRY(backbone_create(use_gpu ? "cudnn" : "cpu", net, &o, &bb));
    const size_t img = (size_t)p.side * p.side * 3;
    for (int k = 0; k < 2; k++) TRY_ALLOC(p.slot[k] = gpu_host_alloc(img * batch));
    TRY_ALLOC(feats = malloc((size_t)batch * net->num_features * sizeof(float)));

    /* End to end: file -> pinned slot (reader thread) -> backbone -> host features. */
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, reader, &p) == 0, ST_ERR, "cannot start the reader thread");
    double t0 = 0;
    for (int it = 0; it < p.iters && rc == ST_OK; it++) {
        int k = it & 1;
        pthread_mutex_lock(&p.mu);
        while (!p.full[k] && !p.err) pthread_cond_wait(&p.cv, &p.mu);
        int err = p.err;
        pthread_mutex_unlock(&p.mu);
        if (err) {
            rc = err_set(ST_ERR, "%s: reading %s failed", catalog, PIXELS);
            break;
        }
        if (it == 1) t0 = time_now(); /* batch 0 was the warm-up */
        rc = backbone_forward(bb, p.slot[k], batch, feats, NULL);
        pthread_mutex_lock(&p.mu);
        p.full[k] = 0;
        if (rc != ST_OK) p.err = 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
    }
    pthread_join(th, NULL);
    TRY(rc);
    e2e = (double)iters * batch / (time_now() - t0);

    /* Backbone alone on a resident page-locked batch. */
    t0 = time_now();
    for (int it = 0; it < iters; it++) TRY(backbone_forward(bb, p.slot[0], batch, feats, NULL));
    gpu_only = (double)iters * batch / (time_now() - t0);

    printf("bench_gpu: %s, %s, %s, batch %d, %d iters: end-to-end from %s %.0f images/s; "
           "backbone alone %.0f images/s\n",
           net->model, use_gpu ? "cudnn" : "cpu", use_gpu ? precision : "fp32", batch, iters,
           catalog, e2e, gpu_only);
    printf("bench_gpu: %s\n", desc);
    if (json) {
        FILE *f = fopen(json, "w");
        REQUIRE(f, ST_ERR, "cannot write %s", json);
        fprintf(f, "{\"impl\": \"assort-%s\", \"model\": \"%s\", \"precision\": \"%s\", \"batch\": %d, "
                   "\"iters\": %d, \"e2e_images_per_s\": %.1f, \"backbone_images_per_s\": %.1f, "
                   "\"device\": \"%s\"}\n",
                use_gpu ? "cudnn" : "cpu", net->model, use_gpu ? precision : "fp32", batch, iters, e2e,
                gpu_only, desc);
        fclose(f);
    }
fail:
    if (rc != ST_OK) fprintf(stderr, "bench_gpu: %s\n", err_msg());
    backbone_free(bb);
    for (int k = 0; k < 2; k++) gpu_host_free(p.slot[k]);
    free(feats);
    if (p.space >= 0) H5Sclose(p.space);
    if (p.dset >= 0) H5Dclose(p.dset);
    if (file >= 0) H5Fclose(file);
    effnet_free(net);
    dist_finalize();
    return rc;
}
