/* fuzz_catalog.c - opening an arbitrary file as a catalog
 * (src/catalog/catalog.h: catalog_open) and a few reads, as `assort info`
 * does them.
 *
 * The input is the whole file, written to a temp file. HDF5 opens it with
 * the MPI-IO driver, so MPI is initialised once (a single rank). After a
 * successful open: root attributes, the row count, the list of top-level
 * groups, and /products/status, /categories/levels read whole. Every call
 * must return a status; none may crash.
 */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "dist/dist.h"
#include "fuzz_util.h"
#include "util/status.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    if (dist_init(argc, argv) != ST_OK) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    if (fuzz_write_file("in.h5", data, size, path, sizeof path)) return 0;
    struct catalog *c = NULL;
    if (catalog_open(path, 0, &c) != ST_OK) {
        if (c) abort();
        return 0;
    }
    int64_t gen = 0;
    char *s = NULL;
    (void)catalog_get_attr_i64(c, "/", "generation", &gen);
    if (catalog_get_attr_str(c, "/", "created", &s) == ST_OK) free(s);
    int64_t n = catalog_count(c);
    (void)n;
    char **names = NULL;
    int count = 0;
    if (catalog_list(c, "/", &names, &count) == ST_OK) catalog_list_free(names, count);
    void *buf = NULL;
    int64_t rows = 0;
    if (catalog_exists(c, "/products/status") &&
        catalog_read_all(c, "/products/status", H5T_NATIVE_UINT8, &buf, &rows) == ST_OK)
        free(buf);
    buf = NULL;
    hid_t st = catalog_str_type(CATALOG_CLASS_BYTES);
    if (st >= 0) {
        if (catalog_exists(c, "/categories/levels") &&
            catalog_read_all(c, "/categories/levels", st, &buf, &rows) == ST_OK)
            free(buf);
        H5Tclose(st);
    }
    int nd = 0;
    hsize_t dims[8];
    if (catalog_exists(c, "/products/id")) (void)catalog_dims(c, "/products/id", &nd, dims);
    (void)catalog_is_complete(c, "/images");
    catalog_close(c);
    return 0;
}
