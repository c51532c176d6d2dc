/* rejects.h - the list of rows that ingest skipped, and where it is stored.
 *
 * Every skipped CSV row becomes one reject: the CSV line where its record
 * starts, the product id and image path as written (possibly empty), and a
 * stable reason string (image.h / safepath.h reasons verbatim, or ingest's
 * own row-level reasons, see docs/ingest.md). The list is written to
 * /rejects/<run-id> in the catalog and to a CSV file for people.
 */
#ifndef ASSORT_REJECTS_H
#define ASSORT_REJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "ingest/table.h"

/* One skipped row. Fixed sizes so that records travel between ranks as bytes
 * and match the catalog's string sizes; longer values are cut at a UTF-8
 * character boundary. */
struct reject {
    int64_t line;                       /* 1-based CSV line of the record */
    char id[CATALOG_ID_BYTES];
    char path[CATALOG_PATH_BYTES];
    char reason[CATALOG_REASON_BYTES];
};

/* A list of rejects in a disk-backed table (table.h): its memory is the
 * table's cache whatever the number of rejects. */
struct reject_list {
    struct dtable items;  /* (count) struct reject */
    int64_t count;
};

/* An empty list whose cache holds cache_bytes; `dir` (borrowed, must outlive
 * the list) is where it spills. A zeroed list may be freed but not used. */
int rejects_init(struct reject_list *l, size_t cache_bytes, const char *dir);

/* Appends a reject (strings copied and cut to fit). ST_ERR on out of memory
 * or a failing temporary file. */
int rejects_add(struct reject_list *l, int64_t line, const char *id, const char *path,
                const char *reason);

/* Copies reject i (0 <= i < count) into *out. */
int rejects_get(struct reject_list *l, int64_t i, struct reject *out);

/* Appends to `out` the rejects of a and b, each ascending by line, in
 * ascending line order (a first on equal lines). Local. */
int rejects_merge(struct reject_list *a, struct reject_list *b, struct reject_list *out);

/* Writes the list as CSV (header line,id,path,reason; RFC 4180 quoting)
 * atomically to `path` (src/util/fsutil.h). Local: call on one rank. */
int rejects_write_csv(struct reject_list *l, const char *path);

/* Writes /rejects/<run_id>/{line,id,path,reason} (count rows each) and marks
 * the group complete. Collective; every rank passes a list of the same count
 * (rank 0's records are written, in slabs: memory does not grow with it). */
int rejects_write_h5(struct reject_list *l, struct catalog *c, const char *run_id);

/* Copies src into dst (dst_bytes including the NUL), cutting at a UTF-8
 * character boundary so the result stays valid UTF-8 if src was. */
void rejects_copy_utf8(char *dst, size_t dst_bytes, const char *src);

void rejects_free(struct reject_list *l);

#endif
