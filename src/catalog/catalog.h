/* catalog.h - the assort catalog: one HDF5 file opened with the MPI-IO driver.
 *
 * Layout, dtypes, chunking and attributes: docs/catalog-format.md. Every
 * product is one row of the per-product datasets under /products (and of
 * /images/pixels, /features/<backbone>/data, ...): row i everywhere is the
 * same product. Rows are never deleted (removed products keep their row with
 * status REMOVED), so row indices are stable across nights.
 *
 * All functions here are collective over dist_comm() unless marked "local":
 * every rank calls them in the same order with the same names. Metadata
 * operations are collective (H5Pset_all_coll_metadata_ops /
 * H5Pset_coll_metadata_write) and raw-data transfers use
 * H5FD_MPIO_COLLECTIVE. A rank with nothing to transfer still calls with
 * count 0.
 *
 * Atomicity: a catalog on disk is never modified in place. Writers call
 * catalog_begin(), which makes (or, to resume, reuses) a work copy
 * "<path>.work", open it, write, and catalog_commit() renames it over <path>.
 * A crash at any point leaves <path> as it was; the work copy is either
 * resumed (when its base generation matches <path>) or discarded.
 */
#ifndef ASSORT_CATALOG_H
#define ASSORT_CATALOG_H

#include <hdf5.h>
#include <stdint.h>

#define CATALOG_FORMAT "assort-catalog"
#define CATALOG_SCHEMA_VERSION 1

/* Fixed string sizes (bytes, NUL-terminated, UTF-8). Parallel HDF5 cannot write
 * variable-length data collectively, so per-product strings are fixed. */
#define CATALOG_ID_BYTES 64
#define CATALOG_NAME_BYTES 256
#define CATALOG_CLASS_BYTES 128
#define CATALOG_ATTR_BYTES 128
#define CATALOG_PATH_BYTES 512
#define CATALOG_REASON_BYTES 256

/* /products/status values. */
enum product_status { PRODUCT_ACTIVE = 0, PRODUCT_REMOVED = 1 };

struct catalog;

/* Creates a new, empty catalog file at `path` (overwriting it) with the root
 * attributes set, and leaves it open for writing. Normally used on a work
 * path from catalog_begin(). */
int catalog_create(const char *path, struct catalog **out);

/* Opens an existing catalog. Checks that it is an HDF5 file, that the root
 * says assort_format = "assort-catalog" and schema_version ==
 * CATALOG_SCHEMA_VERSION; each failure is ST_DATA with one line naming the
 * file and the fix. The file's metadata is first read in a child process
 * of rank 0 (catalog_probe) and the verdict agreed by all ranks, so a file
 * that crashes the HDF5 library is refused on every rank. */
int catalog_open(const char *path, int writable, struct catalog **out);

/* Reads the metadata of the HDF5 file `path` in a forked child (serially, no
 * MPI): every object header, every attribute and every dataset up to 1 MiB.
 * Returns ST_OK when the child finished (whatever it found: the caller's own
 * open reports ordinary errors), ST_DATA with one line naming the file when it
 * crashed or hung (HDF5 1.10.8 does on some corrupt files; probe.c). Skipped
 * (ST_OK) when the file is already open in this process or is not a regular
 * file. Local: call it on every rank, or on one rank and agree. */
int catalog_probe(const char *path);

/* Closes (flushes) the file and frees c. Collective. NULL is a no-op. */
int catalog_close(struct catalog *c);

/* A write transaction on a catalog file. */
struct catalog_txn {
    char path[4096];      /* the catalog */
    char work[4096];      /* its work copy, "<path>.work" */
    int resumed;          /* 1 when an earlier, interrupted work copy was reused */
    struct catalog *cat;  /* open for writing on the work copy */
    int lock_fd;          /* rank 0: the writer lock "<path>.lock" (lock.h); else -1 */
};

/* Starts a transaction on `path`. Rank 0 first takes the catalog's writer
 * lock (lock.h), waiting while another process writes the same catalog; the
 * lock is held until catalog_commit or catalog_abort (or the process ends).
 * - create != 0: a fresh catalog is built in the work copy (path need not exist).
 * - create == 0: path must exist; rank 0 copies it to the work copy unless a
 *   work copy of the same base generation with the same `stage` tag exists
 *   and opens cleanly, in which case it is reused (txn->resumed = 1) so an
 *   interrupted stage can continue.
 * Collective. */
int catalog_begin(const char *path, const char *stage, int create, struct catalog_txn *txn);

/* Flushes and closes the work copy, bumps the generation and renames it over
 * the catalog (rank 0), then barriers. Collective. */
int catalog_commit(struct catalog_txn *txn);

/* Closes the work copy and keeps it on disk (for a later resume), or removes
 * it when discard != 0. Collective. */
int catalog_abort(struct catalog_txn *txn, int discard);

/* Makes committed progress durable inside a transaction (H5Fflush). */
int catalog_flush(struct catalog *c);

/* Local accessors. */
hid_t catalog_file(const struct catalog *c);
const char *catalog_path(const struct catalog *c);
/* Rows in /products (0 for a new file). */
int64_t catalog_count(struct catalog *c);

/* --- datasets --------------------------------------------------------- */

/* Flags of catalog_create_dataset. */
#define CATALOG_EXTENDIBLE 1 /* the first dimension is unlimited */
#define CATALOG_NO_FILL 2    /* the caller writes every row before the commit: chunks
                                are not zero-filled when allocated (saves writing the
                                dataset twice; unwritten rows would hold whatever the
                                file held there) */

/* Creates a chunked dataset (parents created as needed). dims[0] is the row
 * count; flags: CATALOG_EXTENDIBLE | CATALOG_NO_FILL (0 = fixed size, rows
 * zero-filled at allocation). chunk may be NULL (then chosen: ~1 MiB
 * chunks). deflate 0 = none. */
int catalog_create_dataset(struct catalog *c, const char *name, hid_t type, int ndims,
                           const hsize_t *dims, const hsize_t *chunk, int flags, int deflate);

/* 1 if the object exists (local, but every rank sees the same answer). */
int catalog_exists(struct catalog *c, const char *name);

/* Dimensions of a dataset (up to 8). Returns ndims in *ndims. */
int catalog_dims(struct catalog *c, const char *name, int *ndims, hsize_t dims[8]);

/* Grows the first dimension to `rows`. */
int catalog_extend(struct catalog *c, const char *name, int64_t rows);

/* Reads / writes rows [begin, begin + count) of a dataset whose first
 * dimension is the row; buf holds count * (row size) elements of `memtype`.
 * Collective: every rank calls, count may be 0 on some ranks, ranges may
 * overlap for reads (e.g. every rank reading everything). */
int catalog_read_rows(struct catalog *c, const char *name, hid_t memtype, int64_t begin,
                      int64_t count, void *buf);
int catalog_write_rows(struct catalog *c, const char *name, hid_t memtype, int64_t begin,
                       int64_t count, const void *buf);

/* Reads / writes an arbitrary list of rows as ONE collective transfer: rows
 * (count entries, strictly ascending, each < the dataset's row count) are
 * coalesced into runs of consecutive rows and selected as a union of
 * hyperslabs; buf holds count * (row size) elements of `memtype`, row k of
 * buf being rows[k]. Collective like catalog_read_rows: every rank calls,
 * count may be 0 (an empty selection). ST_ERR (message naming the dataset)
 * for an unsorted or out-of-range list. The list is borrowed. */
int catalog_read_row_list(struct catalog *c, const char *name, hid_t memtype,
                          const int64_t *rows, int64_t count, void *buf);
int catalog_write_row_list(struct catalog *c, const char *name, hid_t memtype,
                           const int64_t *rows, int64_t count, const void *buf);

/* The selection of catalog_read/write_row_list on an already open dataset d
 * (named `name` in messages), for callers that keep d open or choose their
 * own transfer property list: *fspace selects the rows (a union of one
 * hyperslab per run of consecutive rows), *mspace is the matching contiguous
 * (count, dims[1:]) memory space; "none" selections when count is 0. The
 * caller closes both. ST_ERR for an unsorted or out-of-range list. */
int catalog_select_row_list(struct catalog *c, const char *name, hid_t d, const int64_t *rows,
                            int64_t count, hid_t *fspace, hid_t *mspace);

/* Writes a whole small dataset (created or replaced) from rank 0's buffer
 * (other ranks may pass the same buffer or NULL). For tables like
 * /categories/<level>, class names, head weights. */
int catalog_write_small(struct catalog *c, const char *name, hid_t type, int ndims,
                        const hsize_t *dims, const void *buf);

/* Reads a whole dataset into a malloc'ed buffer (caller frees) on every rank. */
int catalog_read_all(struct catalog *c, const char *name, hid_t memtype, void **buf,
                     int64_t *rows);

/* A text blob (YAML, JSON) as a scalar fixed-length string dataset
 * (replaced if present). h5py reads it as bytes. */
int catalog_write_text(struct catalog *c, const char *name, const char *text);
/* Reads such a text dataset into a malloc'ed NUL-terminated string. */
int catalog_read_text(struct catalog *c, const char *name, char **text);

/* Removes an object (link) if it exists. */
int catalog_delete(struct catalog *c, const char *name);

/* --- attributes (same value on every rank) ------------------------------ */

int catalog_set_attr_str(struct catalog *c, const char *obj, const char *attr, const char *value);
int catalog_set_attr_i64(struct catalog *c, const char *obj, const char *attr, int64_t value);
int catalog_set_attr_f64(struct catalog *c, const char *obj, const char *attr, double value);
/* Getters: ST_DATA when missing; *value is malloc'ed for strings. */
int catalog_get_attr_str(struct catalog *c, const char *obj, const char *attr, char **value);
int catalog_get_attr_i64(struct catalog *c, const char *obj, const char *attr, int64_t *value);
int catalog_get_attr_f64(struct catalog *c, const char *obj, const char *attr, double *value);
int catalog_has_attr(struct catalog *c, const char *obj, const char *attr);

/* A group is complete once its data are written: attribute complete = 1.
 * Readers ignore groups that are not complete. */
int catalog_mark_complete(struct catalog *c, const char *group);
int catalog_is_complete(struct catalog *c, const char *group);

/* Fixed-length UTF-8 string type of `size_bytes` (NUL-terminated). Caller closes. */
hid_t catalog_str_type(size_t size_bytes);

/* Names of the members of a group (malloc'ed array of malloc'ed strings,
 * sorted). Missing group: *count = 0. */
int catalog_list(struct catalog *c, const char *group, char ***names, int *count);
void catalog_list_free(char **names, int count);

#endif
