/* probe.c - read an untrusted catalog's metadata in a child process first
 * (see catalog_probe in catalog.h, and util/isolate.h for why).
 *
 * HDF5 1.10.8 crashes or reads freed memory on some corrupt files instead of
 * returning an error (found by tests/fuzz/fuzz_catalog: H5O__attr_exists,
 * reproducers in tests/fuzz/catalog/crashes/ and tests/data/bad/). The child
 * opens the file serially (sec2 driver, read-only, no MPI), walks every object
 * header, reads every attribute and every small dataset: the reads a command
 * does on open. If that child dies, the parent refuses the file with one line
 * instead of dying itself; catalog_open probes on rank 0 and agrees the verdict.
 */
#define _XOPEN_SOURCE 700 /* realpath() */
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "util/isolate.h"
#include "util/status.h"

#define PROBE_LIMIT_S 30
#define PROBE_SMALL_BYTES (1 << 20) /* datasets up to 1 MiB are read whole */

static const char FIX[] = "restore it from a backup or rebuild it with `assort ingest`";

/* Reads one attribute or dataset value with a memory type the library can
 * convert to; errors are ignored (the parent reports them properly). */
static void probe_read(hid_t obj, int is_attr) {
    hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    if (ft < 0 || sp < 0) goto done;
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if (n < 0 || n > PROBE_SMALL_BYTES) goto done;
    size_t esize = H5Tget_size(ft);
    if (esize == 0 || esize > 4096 || (size_t)n * esize > PROBE_SMALL_BYTES) goto done;
    hid_t mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    if (mt < 0) goto done;
    size_t msize = H5Tget_size(mt);
    void *buf = calloc((size_t)n + 1, msize > 0 ? msize : 1);
    if (buf) {
        herr_t r = is_attr ? H5Aread(obj, mt, buf) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        /* variable-length data (or strings) read into library-owned memory */
        if (r >= 0 && (H5Tdetect_class(mt, H5T_VLEN) > 0 ||
                       (H5Tget_class(mt) == H5T_STRING && H5Tis_variable_str(mt) > 0)))
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
        free(buf);
    }
    H5Tclose(mt);
done:
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
}

static herr_t probe_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    (void)data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a >= 0) {
        probe_read(a, 1);
        H5Aclose(a);
    }
    return 0;
}

static herr_t probe_object(hid_t root, const char *name, const H5O_info_t *info, void *data) {
    (void)data;
    hid_t o = H5Oopen(root, name, H5P_DEFAULT);
    if (o < 0) return 0;
    hsize_t idx = 0;
    /* H5Aexists_by_name decodes the attribute messages by another path than
     * H5Aiterate2 (the fuzzer found a file that only the former overreads):
     * ask for the names catalog_open and the stages ask for */
    H5Aexists_by_name(o, ".", "complete", H5P_DEFAULT);
    if (!strcmp(name, ".")) {
        H5Aexists_by_name(o, ".", "assort_format", H5P_DEFAULT);
        H5Aexists_by_name(o, ".", "schema_version", H5P_DEFAULT);
    }
    H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, probe_attr, NULL);
    if (info->type == H5O_TYPE_DATASET) {
        hid_t dcpl = H5Dget_create_plist(o);
        if (dcpl >= 0) H5Pclose(dcpl);
        probe_read(o, 0);
    }
    H5Oclose(o);
    return 0;
}

/* The child's work: returns normally whatever it finds; only a crash or a
 * hang (SIGALRM) tells the parent anything. */
static int probe_child(void *arg) {
    const char *path = arg;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return 0;
    H5Pset_file_locking(fapl, 0, 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return 0;
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, probe_object, NULL, H5O_INFO_BASIC);
    /* H5Ovisit stops at the first object header it cannot decode; a command
     * then opens the datasets every command reads and asks each group whether
     * it is complete, and HDF5 overread a group's header after such a failed
     * open (fuzz_catalog, 2026-12-03, tests/fuzz/catalog/crashes/
     * hdf5-attr-exists-after-failed-open.h5): do the same here. */
    static const char *const datasets[] = {"/products/id", "/products/status",
                                           "/categories/levels"};
    static const char *const groups[] = {"/", "/products", "/categories", "/images",
                                         "/features", "/heads", "/runs", "/predictions",
                                         "/similarity", "/rejects", "/meta"};
    for (size_t i = 0; i < sizeof datasets / sizeof datasets[0]; i++) {
        if (H5Lexists(f, datasets[i], H5P_DEFAULT) <= 0) continue;
        hid_t d = H5Dopen2(f, datasets[i], H5P_DEFAULT);
        if (d >= 0) H5Dclose(d);
    }
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (!strcmp(groups[i], "/") || H5Lexists(f, groups[i], H5P_DEFAULT) > 0)
            H5Aexists_by_name(f, groups[i], "complete", H5P_DEFAULT);
    H5Fclose(f);
    return 0;
}

/* 1 when this process already has `path` open in HDF5: the forked child would
 * share that open file's state (and its MPI-IO driver), so no probe then. */
static int already_open(const char *path) {
    ssize_t count = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE);
    if (count <= 0) return 0;
    hid_t *ids = calloc((size_t)count, sizeof *ids);
    if (!ids) return 1;
    count = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_FILE, (size_t)count, ids);
    char want[PATH_MAX], have[PATH_MAX], name[PATH_MAX];
    int open = 0;
    if (!realpath(path, want)) snprintf(want, sizeof want, "%s", path);
    for (ssize_t i = 0; i < count && !open; i++) {
        if (H5Fget_name(ids[i], name, sizeof name) <= 0) continue;
        if (!realpath(name, have)) snprintf(have, sizeof have, "%s", name);
        open = strcmp(want, have) == 0;
    }
    free(ids);
    return open;
}

int catalog_probe(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || already_open(path)) return ST_OK;
    int rc = isolate_read(probe_child, (void *)path, PROBE_LIMIT_S, path, "catalog file",
                          "its metadata", FIX);
    if (rc != ST_OK) return rc;
    /* The child survived; now the same serial open here. A file the serial
     * driver refuses is refused: the MPI-IO driver opened a fuzzer-found one
     * ("I/O in temporary file space" serially) and then overread its root's
     * attributes (H5O__attr_exists, heap-buffer-overflow), which the child,
     * unable to open it, never reached. Same message as catalog_open's. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return ST_OK;
    H5Pset_file_locking(fapl, 0, 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        return err_set(ST_DATA, "%s: not a readable HDF5 file (truncated or corrupt?); %s", path,
                       FIX);
    }
    H5Fclose(f);
    return ST_OK;
}
