/* catalog.c - the HDF5 catalog file over MPI-IO (see catalog.h). */
#include "catalog.h"
#include "lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "util/check.h"
#include "util/fsutil.h"
#include "util/h5extent.h"
#include "util/log.h"

struct catalog {
    hid_t file;
    hid_t dxpl;            /* collective transfer */
    char path[4096];
    int writable;
};

hid_t catalog_file(const struct catalog *c) { return c->file; }
const char *catalog_path(const struct catalog *c) { return c->path; }

/* A failed write names the catalog file (HDF5's own messages do not, e.g. on
 * a full disk). Returns rc. */
static int name_file(const struct catalog *c, int rc) {
    if (rc == ST_OK || strstr(err_msg(), c->path)) return rc;
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", err_msg());
    return err_set(rc, "%s: %s", c->path, msg);
}

static void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* File access: MPI-IO on the world communicator, collective metadata. */
static hid_t make_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    if (H5Pset_fapl_mpio(fapl, dist_comm(), MPI_INFO_NULL) < 0 ||
        H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0 ||
        H5Pset_file_locking(fapl, 0, 1) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

static int catalog_alloc(const char *path, int writable, struct catalog **out) {
    int rc = ST_OK;
    struct catalog *c = calloc(1, sizeof *c);
    TRY_ALLOC(c);
    c->file = -1;
    c->dxpl = -1;
    c->writable = writable;
    snprintf(c->path, sizeof c->path, "%s", path);
    TRY_H5(c->dxpl = H5Pcreate(H5P_DATASET_XFER));
    TRY_H5(H5Pset_dxpl_mpio(c->dxpl, H5FD_MPIO_COLLECTIVE));
    *out = c;
    return ST_OK;
fail:
    if (c && c->dxpl >= 0) H5Pclose(c->dxpl);
    free(c);
    return rc;
}

/* Frees a half-made handle on an error path (closes the file if open). */
static void catalog_discard(struct catalog *c) {
    if (!c) return;
    if (c->file >= 0) H5Fclose(c->file);
    H5Pclose(c->dxpl);
    free(c);
}

int catalog_create(const char *path, struct catalog **out) {
    int rc = ST_OK;
    struct catalog *c = NULL;
    hid_t fapl = -1;
    h5_quiet();
    *out = NULL;
    TRY(catalog_alloc(path, 1, &c));
    TRY_H5(fapl = make_fapl());
    c->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (c->file < 0) {
        H5Eclear2(H5E_DEFAULT);
        FAIL(ST_ERR, "%s: cannot create the catalog file (is the directory writable?)", path);
    }
    char ts[40];
    time_stamp(ts, sizeof ts, 1);
    TRY(catalog_set_attr_str(c, "/", "assort_format", CATALOG_FORMAT));
    TRY(catalog_set_attr_i64(c, "/", "schema_version", CATALOG_SCHEMA_VERSION));
    TRY(catalog_set_attr_i64(c, "/", "generation", 0));
    TRY(catalog_set_attr_str(c, "/", "created", ts));
    TRY(catalog_set_attr_str(c, "/", "assort_version", ASSORT_VERSION));
    H5Pclose(fapl);
    *out = c;
    return ST_OK;
fail:
    if (fapl >= 0) H5Pclose(fapl);
    catalog_discard(c);
    return rc;
}

int catalog_open(const char *path, int writable, struct catalog **out) {
    int rc = ST_OK;
    struct catalog *c = NULL;
    hid_t fapl = -1;
    char *fmt = NULL;
    h5_quiet();
    *out = NULL;
    if (!fs_exists(path))
        return err_set(ST_DATA, "%s: no such catalog file; create one with `assort ingest`", path);
    /* One probe for all ranks (they open the same file): rank 0 reads the
     * metadata in its child, every rank gets the verdict and its message. */
    TRY(dist_agree(dist_rank() == 0 ? catalog_probe(path) : ST_OK));
    TRY(catalog_alloc(path, writable, &c));
    TRY_H5(fapl = make_fapl());
    c->file = H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    if (c->file < 0) {
        H5Eclear2(H5E_DEFAULT);
        FAIL(ST_DATA,
             "%s: not a readable HDF5 file (truncated or corrupt?); restore it from a backup or "
             "rebuild it with `assort ingest`",
             path);
    }
    if (!catalog_has_attr(c, "/", "assort_format"))
        FAIL(ST_DATA, "%s: an HDF5 file but not an assort catalog (no readable assort_format attribute)",
             path);
    TRY(catalog_get_attr_str(c, "/", "assort_format", &fmt)); /* names a corrupt one */
    if (strcmp(fmt, CATALOG_FORMAT))
        FAIL(ST_DATA, "%s: an HDF5 file but not an assort catalog (assort_format is '%.40s')", path,
             fmt);
    int64_t version = -1;
    if (catalog_get_attr_i64(c, "/", "schema_version", &version) != ST_OK)
        FAIL(ST_DATA, "%s: assort catalog without a schema_version attribute", path);
    if (version != CATALOG_SCHEMA_VERSION)
        FAIL(ST_DATA,
             "%s: catalog schema version %lld, this assort reads version %d; rebuild it with this "
             "version's `assort ingest` or use a matching assort",
             path, (long long)version, CATALOG_SCHEMA_VERSION);
    free(fmt);
    H5Pclose(fapl);
    *out = c;
    return ST_OK;
fail:
    free(fmt);
    if (fapl >= 0) H5Pclose(fapl);
    catalog_discard(c);
    return rc;
}

int catalog_close(struct catalog *c) {
    int rc = ST_OK;
    if (!c) return ST_OK;
    if (c->file >= 0 && H5Fclose(c->file) < 0)
        rc = name_file(c, check_report_h5("H5Fclose", __func__, __FILE__, __LINE__));
    if (c->dxpl >= 0) H5Pclose(c->dxpl);
    free(c);
    return rc;
}

int catalog_flush(struct catalog *c) {
    int rc = ST_OK;
    TRY_H5(H5Fflush(c->file, H5F_SCOPE_GLOBAL));
fail:
    return name_file(c, rc);
}

/* --- transactions ---------------------------------------------------------- */

/* Rank 0: 1 if `work` is a resumable work copy of `path` for `stage`. Opened
 * serially (sec2) so a broken file is just "not resumable". */
static int work_is_resumable(const char *path, const char *work, const char *stage) {
    if (!fs_exists(work)) return 0;
    int ok = 0;
    hid_t wf = H5Fopen(work, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t pf = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (wf >= 0 && pf >= 0) {
        int64_t base = -1, gen = -2;
        char st[128] = "";
        hid_t a;
        if ((a = H5Aopen_by_name(wf, "/", "base_generation", H5P_DEFAULT, H5P_DEFAULT)) >= 0) {
            H5Aread(a, H5T_NATIVE_INT64, &base);
            H5Aclose(a);
        }
        if ((a = H5Aopen_by_name(pf, "/", "generation", H5P_DEFAULT, H5P_DEFAULT)) >= 0) {
            H5Aread(a, H5T_NATIVE_INT64, &gen);
            H5Aclose(a);
        }
        if ((a = H5Aopen_by_name(wf, "/", "work_stage", H5P_DEFAULT, H5P_DEFAULT)) >= 0) {
            hid_t t = H5Aget_type(a);
            size_t n = H5Tget_size(t);
            if (n < sizeof st) {
                hid_t mt = H5Tcopy(H5T_C_S1);
                H5Tset_size(mt, n);
                H5Tset_cset(mt, H5Tget_cset(t)); /* UTF-8 attribute: ASCII memtype cannot convert */
                H5Aread(a, mt, st);
                st[n] = '\0';
                H5Tclose(mt);
            }
            H5Tclose(t);
            H5Aclose(a);
        }
        ok = base == gen && strcmp(st, stage) == 0;
    }
    if (wf >= 0) H5Fclose(wf);
    if (pf >= 0) H5Fclose(pf);
    H5Eclear2(H5E_DEFAULT);
    return ok;
}

int catalog_begin(const char *path, const char *stage, int create, struct catalog_txn *txn) {
    int rc = ST_OK;
    h5_quiet();
    memset(txn, 0, sizeof *txn);
    txn->lock_fd = -1;
    snprintf(txn->path, sizeof txn->path, "%s", path);
    if (snprintf(txn->work, sizeof txn->work, "%s.work", path) >= (int)sizeof txn->work)
        return err_set(ST_USAGE, "%s: path too long", path);
    int64_t resumed = 0;
    int st = ST_OK;
    if (dist_rank() == 0) st = catalog_lock_take(path, stage, &txn->lock_fd);
    if (dist_rank() == 0 && st == ST_OK) {
        if (create) {
            unlink(txn->work);
        } else if (!fs_exists(path)) {
            st = err_set(ST_DATA, "%s: no such catalog file; create one with `assort ingest`", path);
        } else if (work_is_resumable(path, txn->work, stage)) {
            resumed = 1;
        } else {
            unlink(txn->work);
            st = fs_copy_file(path, txn->work);
            if (st != ST_OK) err_wrap(st, "making the work copy of %s", path);
        }
    }
    TRY(dist_agree(st));
    TRY(dist_bcast_bytes(&resumed, sizeof resumed, 0));
    txn->resumed = (int)resumed;
    if (create) {
        TRY(catalog_create(txn->work, &txn->cat));
        TRY(catalog_set_attr_i64(txn->cat, "/", "base_generation", -1));
    } else {
        TRY(catalog_open(txn->work, 1, &txn->cat));
        if (!resumed) {
            int64_t gen = 0;
            TRY(catalog_get_attr_i64(txn->cat, "/", "generation", &gen));
            TRY(catalog_set_attr_i64(txn->cat, "/", "base_generation", gen));
        }
    }
    TRY(catalog_set_attr_str(txn->cat, "/", "work_stage", stage));
    if (resumed) log_info(stage, "resuming the interrupted work copy %s", txn->work);
    return ST_OK;
fail:
    if (txn->cat) {
        catalog_close(txn->cat);
        txn->cat = NULL;
    }
    catalog_lock_drop(&txn->lock_fd);
    return rc;
}

int catalog_commit(struct catalog_txn *txn) {
    int rc = ST_OK;
    int64_t base = -1;
    TRY(catalog_get_attr_i64(txn->cat, "/", "base_generation", &base));
    TRY(catalog_set_attr_i64(txn->cat, "/", "generation", base + 1));
    TRY_H5(H5Adelete(txn->cat->file, "base_generation"));
    TRY_H5(H5Adelete(txn->cat->file, "work_stage"));
    rc = catalog_close(txn->cat);
    txn->cat = NULL;
    TRY(dist_agree(rc));
    int st = ST_OK;
    if (dist_rank() == 0) st = fs_rename(txn->work, txn->path);
    TRY(dist_agree(st));
fail:
    catalog_lock_drop(&txn->lock_fd); /* after the rename, or on any failure */
    return rc;
}

int catalog_abort(struct catalog_txn *txn, int discard) {
    if (txn->cat) catalog_close(txn->cat);
    txn->cat = NULL;
    if (discard && dist_rank() == 0) unlink(txn->work);
    catalog_lock_drop(&txn->lock_fd);
    if (dist_initialized() && dist_size() > 1) MPI_Barrier(dist_comm());
    return ST_OK;
}

/* --- objects and datasets --------------------------------------------------- */

int catalog_exists(struct catalog *c, const char *name) {
    if (!strcmp(name, "/")) return 1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", name);
    /* Check each prefix: H5Lexists fails on a missing intermediate group. */
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char save = *p;
            *p = '\0';
            if (H5Lexists(c->file, buf, H5P_DEFAULT) <= 0) {
                H5Eclear2(H5E_DEFAULT);
                return 0;
            }
            *p = save;
            if (save == '\0') break;
        }
    }
    return 1;
}

int catalog_dims(struct catalog *c, const char *name, int *ndims, hsize_t dims[8]) {
    int rc = ST_OK;
    hid_t d = -1, s = -1;
    if (!catalog_exists(c, name))
        return err_set(ST_DATA, "%s: dataset %s is missing", c->path, name);
    TRY_H5(d = H5Dopen2(c->file, name, H5P_DEFAULT));
    TRY_H5(s = H5Dget_space(d));
    int n;
    TRY_H5(n = H5Sget_simple_extent_ndims(s));
    REQUIRE(n <= 8, ST_DATA, "%s: dataset %s has %d dimensions", c->path, name, n);
    TRY_H5(H5Sget_simple_extent_dims(s, dims, NULL));
    *ndims = n;
fail:
    if (s >= 0) H5Sclose(s);
    if (d >= 0) H5Dclose(d);
    return rc;
}

int64_t catalog_count(struct catalog *c) {
    int nd = 0;
    hsize_t dims[8];
    if (!catalog_exists(c, "/products/id")) return 0;
    if (catalog_dims(c, "/products/id", &nd, dims) != ST_OK) return 0;
    return (int64_t)dims[0];
}

static hid_t make_lcpl(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0) H5Pset_create_intermediate_group(lcpl, 1);
    return lcpl;
}

int catalog_create_dataset(struct catalog *c, const char *name, hid_t type, int ndims,
                           const hsize_t *dims, const hsize_t *chunk, int flags, int deflate) {
    int rc = ST_OK;
    hid_t space = -1, dcpl = -1, lcpl = -1, d = -1;
    hsize_t maxdims[8], ch[8];
    REQUIRE(ndims >= 1 && ndims <= 8, ST_ERR, "catalog_create_dataset: bad ndims %d", ndims);
    size_t row_bytes = H5Tget_size(type);
    for (int i = 0; i < ndims; i++) {
        maxdims[i] = dims[i];
        if (i > 0) row_bytes *= dims[i];
    }
    if ((flags & CATALOG_EXTENDIBLE) || dims[0] == 0) maxdims[0] = H5S_UNLIMITED;
    if (chunk) {
        memcpy(ch, chunk, sizeof(hsize_t) * (size_t)ndims);
    } else {
        for (int i = 0; i < ndims; i++) ch[i] = dims[i] ? dims[i] : 1;
        hsize_t rows = row_bytes ? (hsize_t)((1u << 20) / row_bytes) : 1024;
        if (rows < 1) rows = 1;
        if (maxdims[0] != H5S_UNLIMITED && rows > dims[0] && dims[0] > 0) rows = dims[0];
        ch[0] = rows;
    }
    TRY_H5(space = H5Screate_simple(ndims, dims, maxdims));
    TRY_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE));
    TRY_H5(H5Pset_chunk(dcpl, ndims, ch));
    TRY_H5(H5Pset_fill_time(dcpl, flags & CATALOG_NO_FILL ? H5D_FILL_TIME_NEVER : H5D_FILL_TIME_ALLOC));
    if (deflate > 0) TRY_H5(H5Pset_deflate(dcpl, (unsigned)deflate));
    TRY_H5(lcpl = make_lcpl());
    if (catalog_exists(c, name)) TRY_H5(H5Ldelete(c->file, name, H5P_DEFAULT));
    TRY_H5(d = H5Dcreate2(c->file, name, type, space, lcpl, dcpl, H5P_DEFAULT));
fail:
    if (d >= 0) H5Dclose(d);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return name_file(c, rc);
}

int catalog_extend(struct catalog *c, const char *name, int64_t rows) {
    int rc = ST_OK;
    hid_t d = -1;
    int nd = 0;
    hsize_t dims[8];
    TRY(catalog_dims(c, name, &nd, dims));
    dims[0] = (hsize_t)rows;
    TRY_H5(d = H5Dopen2(c->file, name, H5P_DEFAULT));
    TRY_H5(H5Dset_extent(d, dims));
fail:
    if (d >= 0) H5Dclose(d);
    return rc;
}

/* A rank with nothing to transfer still takes part in the collective call:
 * "none" selections on the file space and on a one-element memory space. */
static int select_nothing(int nd, hid_t fspace, hid_t *mspace) {
    int rc = ST_OK;
    hsize_t one[8];
    for (int i = 0; i < nd; i++) one[i] = 1;
    TRY_H5(*mspace = H5Screate_simple(nd, one, NULL));
    TRY_H5(H5Sselect_none(*mspace));
    TRY_H5(H5Sselect_none(fspace));
fail:
    return rc;
}

/* Selects rows [begin, begin+count) of d in fspace and builds the matching
 * memory space (a "none" selection when count is 0). */
static int select_rows(struct catalog *c, const char *name, hid_t d, int64_t begin, int64_t count,
                       hid_t *fspace, hid_t *mspace) {
    int rc = ST_OK;
    hsize_t dims[8], start[8] = {0}, cnt[8];
    int nd;
    *fspace = *mspace = -1;
    TRY_H5(*fspace = H5Dget_space(d));
    TRY_H5(nd = H5Sget_simple_extent_ndims(*fspace));
    TRY_H5(H5Sget_simple_extent_dims(*fspace, dims, NULL));
    REQUIRE(begin >= 0 && count >= 0 && (hsize_t)(begin + count) <= dims[0], ST_ERR,
            "%s: rows [%lld, %lld) outside dataset %s of %llu rows", c->path, (long long)begin,
            (long long)(begin + count), name, (unsigned long long)dims[0]);
    for (int i = 0; i < nd; i++) cnt[i] = dims[i];
    start[0] = (hsize_t)begin;
    cnt[0] = (hsize_t)count;
    if (count == 0) {
        TRY(select_nothing(nd, *fspace, mspace));
    } else {
        TRY_H5(*mspace = H5Screate_simple(nd, cnt, NULL));
        TRY_H5(H5Sselect_hyperslab(*fspace, H5S_SELECT_SET, start, NULL, cnt, NULL));
    }
    return ST_OK;
fail:
    if (*fspace >= 0) H5Sclose(*fspace);
    if (*mspace >= 0) H5Sclose(*mspace);
    *fspace = *mspace = -1;
    return rc;
}

int catalog_select_row_list(struct catalog *c, const char *name, hid_t d, const int64_t *rows,
                            int64_t count, hid_t *fspace, hid_t *mspace) {
    int rc = ST_OK;
    hsize_t dims[8], start[8] = {0}, cnt[8];
    int nd;
    *fspace = *mspace = -1;
    TRY_H5(*fspace = H5Dget_space(d));
    TRY_H5(nd = H5Sget_simple_extent_ndims(*fspace));
    TRY_H5(H5Sget_simple_extent_dims(*fspace, dims, NULL));
    for (int64_t k = 0; k < count; k++)
        REQUIRE(rows[k] >= 0 && (hsize_t)rows[k] < dims[0] && (k == 0 || rows[k] > rows[k - 1]),
                ST_ERR, "%s: row list entry %lld (row %lld) of dataset %s (%llu rows) is out of "
                "range or not ascending", c->path, (long long)k, (long long)rows[k], name,
                (unsigned long long)dims[0]);
    for (int i = 0; i < nd; i++) cnt[i] = dims[i];
    if (count == 0) return select_nothing(nd, *fspace, mspace);
    H5S_seloper_t op = H5S_SELECT_SET;
    for (int64_t k = 0; k < count;) {
        int64_t run = 1;
        while (k + run < count && rows[k + run] == rows[k] + run) run++;
        start[0] = (hsize_t)rows[k];
        cnt[0] = (hsize_t)run;
        TRY_H5(H5Sselect_hyperslab(*fspace, op, start, NULL, cnt, NULL));
        op = H5S_SELECT_OR;
        k += run;
    }
    cnt[0] = (hsize_t)count;
    TRY_H5(*mspace = H5Screate_simple(nd, cnt, NULL));
    return ST_OK;
fail:
    if (*fspace >= 0) H5Sclose(*fspace);
    if (*mspace >= 0) H5Sclose(*mspace);
    *fspace = *mspace = -1;
    return rc;
}

/* The rows of one transfer: [begin, begin + count), or the sorted list
 * rows[0..count) when rows is not NULL. */
struct row_set {
    int64_t begin, count;
    const int64_t *rows;
};

/* Opens `name`, selects the row set and transfers buf collectively. */
static int rows_io(struct catalog *c, const char *name, hid_t memtype, const struct row_set *set,
                   void *buf, int write) {
    int rc = ST_OK;
    hid_t d = -1, fs = -1, ms = -1;
    if (!catalog_exists(c, name))
        return err_set(ST_DATA, "%s: dataset %s is missing", c->path, name);
    TRY_H5(d = H5Dopen2(c->file, name, H5P_DEFAULT));
    if (set->rows)
        TRY(catalog_select_row_list(c, name, d, set->rows, set->count, &fs, &ms));
    else
        TRY(select_rows(c, name, d, set->begin, set->count, &fs, &ms));
    if (write)
        TRY_H5(H5Dwrite(d, memtype, ms, fs, c->dxpl, buf));
    else
        TRY_H5(H5Dread(d, memtype, ms, fs, c->dxpl, buf));
fail:
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (d >= 0) H5Dclose(d);
    if (rc != ST_OK) {
        if (set->rows)
            err_wrap(rc, "%s %s (%lld listed rows)", write ? "writing" : "reading", name,
                     (long long)set->count);
        else
            err_wrap(rc, "%s %s rows [%lld, +%lld)", write ? "writing" : "reading", name,
                     (long long)set->begin, (long long)set->count);
    }
    return name_file(c, rc);
}

int catalog_read_rows(struct catalog *c, const char *name, hid_t memtype, int64_t begin,
                      int64_t count, void *buf) {
    struct row_set set = {begin, count, NULL};
    return rows_io(c, name, memtype, &set, buf, 0);
}

int catalog_write_rows(struct catalog *c, const char *name, hid_t memtype, int64_t begin,
                       int64_t count, const void *buf) {
    struct row_set set = {begin, count, NULL};
    return rows_io(c, name, memtype, &set, (void *)buf, 1);
}

int catalog_read_row_list(struct catalog *c, const char *name, hid_t memtype,
                          const int64_t *rows, int64_t count, void *buf) {
    struct row_set set = {0, count, rows};
    return rows_io(c, name, memtype, &set, buf, 0);
}

int catalog_write_row_list(struct catalog *c, const char *name, hid_t memtype,
                           const int64_t *rows, int64_t count, const void *buf) {
    struct row_set set = {0, count, rows};
    return rows_io(c, name, memtype, &set, (void *)buf, 1);
}

int catalog_write_small(struct catalog *c, const char *name, hid_t type, int ndims,
                        const hsize_t *dims, const void *buf) {
    int rc = ST_OK;
    hid_t space = -1, lcpl = -1, d = -1, ms = -1, fs = -1;
    hsize_t total = 1;
    for (int i = 0; i < ndims; i++) total *= dims[i];
    if (catalog_exists(c, name)) TRY_H5(H5Ldelete(c->file, name, H5P_DEFAULT));
    TRY_H5(space = H5Screate_simple(ndims, dims, NULL));
    TRY_H5(lcpl = make_lcpl());
    TRY_H5(d = H5Dcreate2(c->file, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT));
    if (total > 0) {
        TRY_H5(fs = H5Scopy(space));
        TRY_H5(ms = H5Scopy(space));
        if (dist_rank() != 0) {
            TRY_H5(H5Sselect_none(fs));
            TRY_H5(H5Sselect_none(ms));
        }
        TRY_H5(H5Dwrite(d, type, ms, fs, c->dxpl, dist_rank() == 0 ? buf : NULL));
    }
fail:
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (d >= 0) H5Dclose(d);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (space >= 0) H5Sclose(space);
    if (rc != ST_OK) err_wrap(rc, "writing %s", name);
    return name_file(c, rc);
}

/* The bytes a whole read of dataset `d` (`name`, extent nd x dims) takes in
 * memory type `memtype`, or ST_DATA when the file cannot hold what the
 * dataset declares (util/h5extent.h): a corrupt header would otherwise make
 * the caller allocate by a made-up extent (fuzz_catalog: a 15 KB file
 * declaring 3e9 rows). Rows added and never written pass: the MPI-IO driver
 * allocates storage early. */
static int extent_bytes(struct catalog *c, const char *name, hid_t d, hid_t memtype, int nd,
                        const hsize_t *dims, size_t *bytes) {
    int rc = ST_OK;
    size_t elems = 1;
    hsize_t fsize = 0, held = 0;
    double declared = 0;
    int overflow = 0;
    for (int i = 0; i < nd; i++) overflow |= __builtin_mul_overflow(elems, (size_t)dims[i], &elems);
    overflow |= __builtin_mul_overflow(elems, H5Tget_size(memtype), bytes);
    /* The MPI-IO driver forgets the file's size at each write: after one in
     * this session the size is unknown and the storage alone bounds. */
    if (H5Fget_filesize(c->file, &fsize) < 0) {
        H5Eclear2(H5E_DEFAULT);
        fsize = 0;
    }
    REQUIRE(!overflow, ST_DATA,
            "%s: dataset %s declares an extent too large to address: the file is corrupt; "
            "restore it from a backup or rebuild it with `assort ingest`",
            c->path, name);
    int fits = h5extent_fits(d, elems, fsize, &declared, &held);
    TRY_H5(fits);
    REQUIRE(fits, ST_DATA,
            "%s: dataset %s declares %llu elements (%.0f bytes) but the file holds %llu bytes of "
            "it: the file is truncated or corrupt; restore it from a backup or rebuild it with "
            "`assort ingest`",
            c->path, name, (unsigned long long)elems, declared, (unsigned long long)held);
fail:
    return rc;
}

int catalog_read_all(struct catalog *c, const char *name, hid_t memtype, void **buf,
                     int64_t *rows) {
    int rc = ST_OK;
    int nd = 0;
    hsize_t dims[8];
    hid_t d = -1;
    size_t bytes = 0;
    *buf = NULL;
    TRY(catalog_dims(c, name, &nd, dims));
    TRY_H5(d = H5Dopen2(c->file, name, H5P_DEFAULT));
    TRY(extent_bytes(c, name, d, memtype, nd, dims, &bytes));
    *buf = malloc(bytes ? bytes : 1);
    TRY_ALLOC(*buf);
    if (nd == 0) {
        TRY_H5(H5Dread(d, memtype, H5S_ALL, H5S_ALL, c->dxpl, *buf));
        if (rows) *rows = 1;
    } else {
        TRY(catalog_read_rows(c, name, memtype, 0, (int64_t)dims[0], *buf));
        if (rows) *rows = (int64_t)dims[0];
    }
    H5Dclose(d);
    return ST_OK;
fail:
    if (d >= 0) H5Dclose(d);
    free(*buf);
    *buf = NULL;
    return rc;
}

int catalog_write_text(struct catalog *c, const char *name, const char *text) {
    int rc = ST_OK;
    hid_t t = -1;
    size_t n = strlen(text) + 1;
    TRY_H5(t = catalog_str_type(n));
    rc = catalog_write_small(c, name, t, 0, NULL, text);
fail:
    if (t >= 0) H5Tclose(t);
    return name_file(c, rc);
}

int catalog_read_text(struct catalog *c, const char *name, char **text) {
    int rc = ST_OK;
    hid_t d = -1, t = -1;
    *text = NULL;
    if (!catalog_exists(c, name)) return err_set(ST_DATA, "%s: %s is missing", c->path, name);
    TRY_H5(d = H5Dopen2(c->file, name, H5P_DEFAULT));
    TRY_H5(t = H5Dget_type(d));
    REQUIRE(H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0, ST_DATA,
            "%s: %s is not a fixed-length text dataset; rebuild the catalog with `assort ingest`",
            c->path, name);
    /* one string of n bytes, read whole into n + 1 */
    hsize_t one = 1;
    size_t n = 0;
    TRY(extent_bytes(c, name, d, t, 1, &one, &n));
    hid_t s = H5Dget_space(d);
    hssize_t points = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    if (s >= 0) H5Sclose(s);
    REQUIRE(points == 1, ST_DATA,
            "%s: %s holds %lld strings, not one text; rebuild the catalog with `assort ingest`",
            c->path, name, (long long)points);
    *text = calloc(n + 1, 1);
    TRY_ALLOC(*text);
    TRY_H5(H5Dread(d, t, H5S_ALL, H5S_ALL, c->dxpl, *text));
fail:
    if (rc != ST_OK) {
        free(*text);
        *text = NULL;
    }
    if (t >= 0) H5Tclose(t);
    if (d >= 0) H5Dclose(d);
    return rc;
}

int catalog_delete(struct catalog *c, const char *name) {
    int rc = ST_OK;
    if (catalog_exists(c, name)) TRY_H5(H5Ldelete(c->file, name, H5P_DEFAULT));
fail:
    return rc;
}

/* --- attributes ------------------------------------------------------------ */

hid_t catalog_str_type(size_t size_bytes) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, size_bytes ? size_bytes : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static int set_attr(struct catalog *c, const char *obj, const char *attr, hid_t type,
                    const void *value) {
    int rc = ST_OK;
    hid_t o = -1, s = -1, a = -1;
    if (!catalog_exists(c, obj)) {
        hid_t g = -1, lcpl = -1;
        TRY_H5(lcpl = make_lcpl());
        g = H5Gcreate2(c->file, obj, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        H5Pclose(lcpl);
        TRY_H5(g);
        H5Gclose(g);
    }
    TRY_H5(o = H5Oopen(c->file, obj, H5P_DEFAULT));
    if (H5Aexists(o, attr) > 0) TRY_H5(H5Adelete(o, attr));
    TRY_H5(s = H5Screate(H5S_SCALAR));
    TRY_H5(a = H5Acreate2(o, attr, type, s, H5P_DEFAULT, H5P_DEFAULT));
    TRY_H5(H5Awrite(a, type, value));
fail:
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    if (o >= 0) H5Oclose(o);
    if (rc != ST_OK) err_wrap(rc, "setting attribute %s on %s", attr, obj);
    return rc;
}

int catalog_set_attr_str(struct catalog *c, const char *obj, const char *attr, const char *value) {
    hid_t t = catalog_str_type(strlen(value) + 1);
    if (t < 0) return check_report_h5("catalog_str_type", __func__, __FILE__, __LINE__);
    int rc = set_attr(c, obj, attr, t, value);
    H5Tclose(t);
    return rc;
}

int catalog_set_attr_i64(struct catalog *c, const char *obj, const char *attr, int64_t value) {
    return set_attr(c, obj, attr, H5T_NATIVE_INT64, &value);
}

int catalog_set_attr_f64(struct catalog *c, const char *obj, const char *attr, double value) {
    return set_attr(c, obj, attr, H5T_NATIVE_DOUBLE, &value);
}

int catalog_has_attr(struct catalog *c, const char *obj, const char *attr) {
    if (!catalog_exists(c, obj)) return 0;
    htri_t e = H5Aexists_by_name(c->file, obj, attr, H5P_DEFAULT);
    if (e < 0) H5Eclear2(H5E_DEFAULT);
    return e > 0;
}

static int get_attr(struct catalog *c, const char *obj, const char *attr, hid_t type, void *value) {
    int rc = ST_OK;
    hid_t a = -1;
    if (!catalog_has_attr(c, obj, attr))
        return err_set(ST_DATA, "%s: attribute %s of %s is missing", c->path, attr, obj);
    TRY_H5(a = H5Aopen_by_name(c->file, obj, attr, H5P_DEFAULT, H5P_DEFAULT));
    TRY_H5(H5Aread(a, type, value));
fail:
    if (a >= 0) H5Aclose(a);
    return rc;
}

int catalog_get_attr_i64(struct catalog *c, const char *obj, const char *attr, int64_t *value) {
    return get_attr(c, obj, attr, H5T_NATIVE_INT64, value);
}

int catalog_get_attr_f64(struct catalog *c, const char *obj, const char *attr, double *value) {
    return get_attr(c, obj, attr, H5T_NATIVE_DOUBLE, value);
}

int catalog_get_attr_str(struct catalog *c, const char *obj, const char *attr, char **value) {
    int rc = ST_OK;
    hid_t a = -1, t = -1, mt = -1;
    *value = NULL;
    if (!catalog_has_attr(c, obj, attr))
        return err_set(ST_DATA, "%s: attribute %s of %s is missing", c->path, attr, obj);
    TRY_H5(a = H5Aopen_by_name(c->file, obj, attr, H5P_DEFAULT, H5P_DEFAULT));
    TRY_H5(t = H5Aget_type(a));
    REQUIRE(H5Tget_class(t) == H5T_STRING, ST_DATA, "%s: attribute %s of %s is not a string",
            c->path, attr, obj);
    if (H5Tis_variable_str(t) > 0) {
        char *vl = NULL;
        TRY_H5(mt = H5Tcopy(H5T_C_S1));
        TRY_H5(H5Tset_size(mt, H5T_VARIABLE));
        TRY_H5(H5Aread(a, mt, &vl));
        *value = strdup(vl ? vl : "");
        H5free_memory(vl);
    } else {
        /* one string of n bytes: the attribute's stored data must hold it
         * (a corrupt header may declare a size of gigabytes) */
        size_t n = H5Tget_size(t);
        hid_t s = H5Aget_space(a);
        hssize_t points = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
        if (s >= 0) H5Sclose(s);
        REQUIRE(points == 1 && n <= H5Aget_storage_size(a), ST_DATA,
                "%s: attribute %s of %s is not one stored string (truncated or corrupt file?); "
                "restore it from a backup or rebuild it with `assort ingest`",
                c->path, attr, obj);
        *value = calloc(n + 1, 1);
        TRY_ALLOC(*value);
        TRY_H5(H5Aread(a, t, *value));
    }
    TRY_ALLOC(*value);
fail:
    if (rc != ST_OK) {
        free(*value);
        *value = NULL;
    }
    if (mt >= 0) H5Tclose(mt);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

int catalog_mark_complete(struct catalog *c, const char *group) {
    return catalog_set_attr_i64(c, group, "complete", 1);
}

int catalog_is_complete(struct catalog *c, const char *group) {
    int64_t v = 0;
    if (!catalog_has_attr(c, group, "complete")) return 0;
    if (catalog_get_attr_i64(c, group, "complete", &v) != ST_OK) return 0;
    return v == 1;
}

/* --- listing --------------------------------------------------------------- */

struct name_list {
    char **names;
    int count, cap;
};

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)g;
    (void)info;
    struct name_list *l = data;
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **n = realloc(l->names, sizeof(char *) * (size_t)cap);
        if (!n) return -1;
        l->names = n;
        l->cap = cap;
    }
    l->names[l->count] = strdup(name);
    if (!l->names[l->count]) return -1;
    l->count++;
    return 0;
}

int catalog_list(struct catalog *c, const char *group, char ***names, int *count) {
    int rc = ST_OK;
    hid_t g = -1;
    struct name_list l = {0};
    *names = NULL;
    *count = 0;
    if (!catalog_exists(c, group)) return ST_OK;
    TRY_H5(g = H5Gopen2(c->file, group, H5P_DEFAULT));
    TRY_H5(H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_cb, &l));
    *names = l.names;
    *count = l.count;
    l.names = NULL;
fail:
    if (g >= 0) H5Gclose(g);
    if (l.names) catalog_list_free(l.names, l.count);
    return rc;
}

void catalog_list_free(char **names, int count) {
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}
