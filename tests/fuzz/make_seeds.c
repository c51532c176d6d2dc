/* make_seeds.c - writes the small HDF5 seed files of the catalog and
 * weights fuzz targets (not a test; run by hand, see tests/fuzz/README.md).
 *
 * Usage: fuzz_make_seeds OUT_DIR
 * Writes OUT_DIR/catalog_tiny.h5 (a real catalog made with the catalog API:
 * 3 products, status, ids, one category level, a complete /images group)
 * and OUT_DIR/weights_tiny.h5 (a 4-block EfficientNet-style model with the
 * layout effnet_load checks, channel counts of 8-20: the same synthetic
 * model as tests/unit/test_nn_effnet.c). Truncated copies are cut from these
 * with head -c by tests/fuzz/README.md's recipe.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "dist/dist.h"
#include "util/status.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / (double)(1ull << 24)) * 2.f - 1.f;
}

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
static void put_conv(hid_t f, const char *g, int o, int k, int i) {
    char p[96];
    hsize_t w[4] = {(hsize_t)o, (hsize_t)k, (hsize_t)k, (hsize_t)i}, b[1] = {(hsize_t)o};
    snprintf(p, sizeof p, "%s/weight", g);
    put(f, p, 4, w, 1.5f / sqrtf((float)(k * k * i)));
    snprintf(p, sizeof p, "%s/bias", g);
    put(f, p, 1, b, 0.2f);
}

static int write_weights(const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return 1;
    attr_str(f, "format", "assort-weights");
    attr_int(f, "format_version", 1);
    attr_str(f, "model", "efficientnet-test");
    attr_str(f, "activation", "relu6");
    attr_int(f, "image_size", SIDE);
    attr_int(f, "num_features", FEATS);
    attr_int(f, "num_classes", CLASSES);
    attr_int(f, "num_blocks", NB);
    attr_f3(f, "input_mean", MEAN);
    attr_f3(f, "input_std", STDV);
    put_conv(f, "/stem", STEM, 3, 3);
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
            put_conv(f, sub, exp, 1, in);
        }
        snprintf(sub, sizeof sub, "%s/depthwise", gn);
        put_conv(f, sub, exp, blk[i][3], 1);
        snprintf(sub, sizeof sub, "%s/project", gn);
        put_conv(f, sub, out, 1, exp);
        g = H5Gopen2(f, gn, H5P_DEFAULT);
        attr_int(g, "in_channels", in);
        attr_int(g, "out_channels", out);
        attr_int(g, "expand_ratio", e);
        attr_int(g, "kernel", blk[i][3]);
        attr_int(g, "stride", blk[i][4]);
        attr_int(g, "residual", blk[i][5]);
        H5Gclose(g);
    }
    put_conv(f, "/head", FEATS, 1, blk[NB - 1][1]);
    hsize_t cw[2] = {CLASSES, FEATS}, cb[1] = {CLASSES};
    put(f, "/classifier/weight", 2, cw, 0.3f);
    put(f, "/classifier/bias", 1, cb, 0.1f);
    return H5Fclose(f) < 0;
}

static int write_catalog(const char *path) {
    struct catalog *c = NULL;
    int rc = catalog_create(path, &c);
    hid_t ids = catalog_str_type(CATALOG_ID_BYTES), cls = catalog_str_type(CATALOG_CLASS_BYTES);
    char idv[3][CATALOG_ID_BYTES] = {"1163", "2290", "40077"};
    char lev[1][CATALOG_CLASS_BYTES] = {"masterCategory"};
    uint8_t status[3] = {PRODUCT_ACTIVE, PRODUCT_REMOVED, PRODUCT_ACTIVE};
    hsize_t n3 = 3, n1 = 1, ch4 = 4; /* tiny chunks keep the seed small */
    if (rc == ST_OK) rc = catalog_create_dataset(c, "/products/id", ids, 1, &n3, &ch4, 1, 0);
    if (rc == ST_OK) rc = catalog_write_rows(c, "/products/id", ids, 0, 3, idv);
    if (rc == ST_OK) rc = catalog_create_dataset(c, "/products/status", H5T_STD_U8LE, 1, &n3, &ch4, 1, 0);
    if (rc == ST_OK) rc = catalog_write_rows(c, "/products/status", H5T_NATIVE_UINT8, 0, 3, status);
    if (rc == ST_OK) rc = catalog_write_small(c, "/categories/levels", cls, 1, &n1, lev);
    if (rc == ST_OK) rc = catalog_write_text(c, "/meta/config", "train: {epochs: 2}\n");
    if (rc == ST_OK) rc = catalog_create_dataset(c, "/images/size", H5T_STD_I32LE, 1, &n3, &ch4, 1, 0);
    if (rc == ST_OK) rc = catalog_mark_complete(c, "/images");
    H5Tclose(ids);
    H5Tclose(cls);
    if (c && catalog_close(c) != ST_OK && rc == ST_OK) rc = ST_ERR;
    return rc;
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK || argc != 2) {
        fprintf(stderr, "usage: fuzz_make_seeds OUT_DIR\n");
        return 2;
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/catalog_tiny.h5", argv[1]);
    if (write_catalog(p) != ST_OK) {
        fprintf(stderr, "%s: %s\n", p, err_msg());
        return 1;
    }
    snprintf(p, sizeof p, "%s/weights_tiny.h5", argv[1]);
    if (write_weights(p)) {
        fprintf(stderr, "%s: cannot write\n", p);
        return 1;
    }
    dist_finalize();
    return 0;
}
