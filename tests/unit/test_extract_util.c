/* test_extract_util.c - helper of the extract script tests (not a test itself).
 *
 *   mkcat PATH N S          new catalog: N products, S x S pixels (deterministic
 *                           pictures), every 9th product removed, all dirty;
 *                           S = 0: no /images at all
 *   repaint PATH ROW...     new pixels for these rows and dirty = 1 (in place)
 *   digest PATH DATASET     XXH3-64 of the dataset's stored bytes
 *   rowdiff A B DATASET     rows whose stored bytes differ ("none" if equal)
 *   count PATH DATASET      number of non-zero entries of a uint8 dataset
 *   f16check F32 F16 GROUP  GROUP/data of F16 (read through HDF5's own
 *                           conversion to float) within half precision of F32's
 * Serial; HDF5 files are opened with the default (sec2) driver, except mkcat
 * and repaint which use the catalog API. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "dist/dist.h"
#include "util/hash.h"
#include "util/status.h"

static uint8_t pixel(int64_t seed, int x, int y, int c, int s) {
    uint64_t k[4] = {(uint64_t)seed, (uint64_t)x, (uint64_t)y, (uint64_t)c};
    int smooth = (int)((x * (seed % 5 + 1) * 255) / s + (y * 255) / s * (c + 1) + seed * 37) & 255;
    return (uint8_t)((smooth + (int)(hash64(k, sizeof k) & 63)) & 255);
}

static void paint(uint8_t *dst, int64_t seed, int s) {
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++)
            for (int c = 0; c < 3; c++) dst[((size_t)y * s + x) * 3 + c] = pixel(seed, x, y, c, s);
}

static int die(const char *what) {
    fprintf(stderr, "test_extract_util: %s: %s\n", what, err_msg());
    return 1;
}

static int mkcat(const char *path, int64_t n, int s) {
    struct catalog *c = NULL;
    if (catalog_create(path, &c)) return die("create");
    hid_t st = catalog_str_type(CATALOG_ID_BYTES);
    hsize_t d1[1] = {(hsize_t)n}, d4[4] = {(hsize_t)n, (hsize_t)s, (hsize_t)s, 3};
    hsize_t ch4[4] = {4, (hsize_t)s, (hsize_t)s, 3};
    char *ids = calloc((size_t)n, CATALOG_ID_BYTES);
    uint8_t *status = malloc((size_t)n), *dirty = malloc((size_t)n);
    uint8_t *px = malloc((size_t)n * s * s * 3 + 1);
    for (int64_t i = 0; i < n; i++) {
        snprintf(ids + i * CATALOG_ID_BYTES, CATALOG_ID_BYTES, "p%05lld", (long long)i);
        status[i] = i % 9 == 8 ? PRODUCT_REMOVED : PRODUCT_ACTIVE;
        dirty[i] = 1;
        if (s > 0) paint(px + (size_t)i * s * s * 3, i, s);
    }
    int rc = catalog_create_dataset(c, "/products/id", st, 1, d1, NULL, 1, 0) ||
             catalog_write_rows(c, "/products/id", st, 0, n, ids) ||
             catalog_create_dataset(c, "/products/status", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0) ||
             catalog_write_rows(c, "/products/status", H5T_NATIVE_UINT8, 0, n, status) ||
             catalog_create_dataset(c, "/products/dirty", H5T_NATIVE_UINT8, 1, d1, NULL, 1, 0) ||
             catalog_write_rows(c, "/products/dirty", H5T_NATIVE_UINT8, 0, n, dirty) ||
             (s > 0 && (catalog_create_dataset(c, "/images/pixels", H5T_NATIVE_UINT8, 4, d4, ch4, 1, 0) ||
             catalog_write_rows(c, "/images/pixels", H5T_NATIVE_UINT8, 0, n, px) ||
             catalog_set_attr_i64(c, "/images", "image_size", s) ||
             catalog_mark_complete(c, "/images"))) || catalog_close(c);
    H5Tclose(st);
    free(ids), free(status), free(dirty), free(px);
    return rc ? die("mkcat") : 0;
}

static int repaint(const char *path, int argc, char **argv) {
    struct catalog *c = NULL;
    if (catalog_open(path, 1, &c)) return die("open");
    int nd;
    hsize_t dims[8];
    if (catalog_dims(c, "/images/pixels", &nd, dims)) return die("dims");
    int s = (int)dims[1];
    uint8_t *px = malloc((size_t)s * s * 3), one = 1;
    for (int k = 0; k < argc; k++) {
        int64_t row = atoll(argv[k]);
        paint(px, row + 100000, s);
        if (catalog_write_rows(c, "/images/pixels", H5T_NATIVE_UINT8, row, 1, px) ||
            catalog_write_rows(c, "/products/dirty", H5T_NATIVE_UINT8, row, 1, &one))
            return die("repaint");
    }
    free(px);
    return catalog_close(c) ? die("close") : 0;
}

/* Whole dataset as stored bytes; rows and row size out. */
static uint8_t *read_raw(const char *path, const char *name, hsize_t *rows, size_t *row_bytes) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return H5Fclose(f), NULL;
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    hsize_t dims[8];
    int nd = H5Sget_simple_extent_dims(s, dims, NULL);
    size_t rb = H5Tget_size(t);
    for (int i = 1; i < nd; i++) rb *= dims[i];
    uint8_t *buf = malloc(dims[0] * rb + 1);
    if (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) free(buf), buf = NULL;
    *rows = dims[0], *row_bytes = rb;
    H5Sclose(s), H5Tclose(t), H5Dclose(d), H5Fclose(f);
    return buf;
}

static float *read_float(const char *path, const char *name, hsize_t *rows, hsize_t *cols) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return H5Fclose(f), NULL;
    hid_t s = H5Dget_space(d);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(s, dims, NULL);
    float *buf = malloc(dims[0] * dims[1] * sizeof(float) + 1);
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) free(buf), buf = NULL;
    *rows = dims[0], *cols = dims[1];
    H5Sclose(s), H5Dclose(d), H5Fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of test_extract_util.c\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "mkcat") || !strcmp(cmd, "repaint")) {
        if (dist_init(&argc, &argv) != ST_OK) return die("MPI");
        int rc = !strcmp(cmd, "mkcat") ? (argc == 5 ? mkcat(argv[2], atoll(argv[3]), atoi(argv[4])) : 2)
                                       : repaint(argv[2], argc - 3, argv + 3);
        dist_finalize();
        return rc;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!strcmp(cmd, "digest") && argc == 4) {
        hsize_t rows;
        size_t rb;
        uint8_t *b = read_raw(argv[2], argv[3], &rows, &rb);
        if (!b) return fprintf(stderr, "cannot read %s:%s\n", argv[2], argv[3]), 1;
        printf("%016llx\n", (unsigned long long)hash64(b, rows * rb));
        free(b);
        return 0;
    }
    if (!strcmp(cmd, "count") && argc == 4) {
        hsize_t rows;
        size_t rb;
        uint8_t *b = read_raw(argv[2], argv[3], &rows, &rb);
        if (!b) return fprintf(stderr, "cannot read %s:%s\n", argv[2], argv[3]), 1;
        long long k = 0;
        for (hsize_t i = 0; i < rows * rb; i++) k += b[i] != 0;
        printf("%lld\n", k);
        free(b);
        return 0;
    }
    if (!strcmp(cmd, "rowdiff") && argc == 5) {
        hsize_t ra, rb_;
        size_t sa, sb;
        uint8_t *a = read_raw(argv[2], argv[4], &ra, &sa), *b = read_raw(argv[3], argv[4], &rb_, &sb);
        if (!a || !b || ra != rb_ || sa != sb)
            return fprintf(stderr, "cannot compare %s in %s and %s\n", argv[4], argv[2], argv[3]), 1;
        int any = 0;
        for (hsize_t i = 0; i < ra; i++)
            if (memcmp(a + i * sa, b + i * sa, sa)) printf("%s%llu", any++ ? "," : "", (unsigned long long)i);
        printf("%s\n", any ? "" : "none");
        free(a), free(b);
        return 0;
    }
    if (!strcmp(cmd, "f16check") && argc == 5) {
        char name[256];
        snprintf(name, sizeof name, "%s/data", argv[4]);
        hsize_t r32, c32, r16, c16;
        float *a = read_float(argv[2], name, &r32, &c32), *b = read_float(argv[3], name, &r16, &c16);
        if (!a || !b || r32 != r16 || c32 != c16) return fprintf(stderr, "cannot compare\n"), 1;
        double worst = 0;
        long long bad = 0;
        for (hsize_t i = 0; i < r32 * c32; i++) {
            double tol = ldexp(fabs(a[i]), -11) + ldexp(1.0, -25);
            double e = fabs((double)a[i] - b[i]);
            if (!(e <= tol)) bad++;
            if (fabs(a[i]) > 1e-3 && e / fabs(a[i]) > worst) worst = e / fabs(a[i]);
        }
        printf("max relative error %.3g (half precision bound %.3g), %lld outside\n", worst,
               ldexp(1.0, -11), bad);
        free(a), free(b);
        return bad ? 1 : 0;
    }
    fprintf(stderr, "test_extract_util: unknown command or wrong arguments\n");
    return 2;
}
