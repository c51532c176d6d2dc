/* ingest.h - `assort ingest`: a product CSV + image folder -> the HDF5 catalog.
 *
 * Semantics (rows, labels, update, rejects, atomicity): docs/ingest.md.
 * In short: every rank streams the whole CSV and runs the row-level checks
 * identically, keeping record offsets and id hashes, not fields; image work
 * is sharded over ranks in two passes (A: read, hash, decode to check; B:
 * decode, resize, write of pixels in small batches); each rank writes the
 * per-product columns of its own row range. Everything is written into a work copy of the catalog
 * (catalog_begin) and committed only at the end; any failure or stop
 * discards the work copy, so the previous catalog is never touched.
 */
#ifndef ASSORT_INGEST_H
#define ASSORT_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* What one ingest did (same values on every rank). */
struct ingest_counts {
    int64_t csv_rows;       /* data records in the CSV */
    int64_t accepted;       /* rows that passed every check */
    int64_t rejected;       /* rows skipped (listed in /rejects and rejects.csv) */
    int64_t new_count;      /* products appended */
    int64_t changed;        /* existing products whose image hash, name or labels changed */
    int64_t unchanged;      /* existing products left as they were */
    int64_t removed;        /* active products absent from this CSV, now status=removed */
    int64_t reactivated;    /* removed products present again (also in changed/unchanged) */
    int64_t images_written; /* pixel rows decoded, resized and written */
    int64_t total_rows;     /* rows in the catalog after the run */
};

/* Ingests cfg->ingest.csv (images under cfg->ingest.images_root) into the
 * catalog at `catalog_path`. update == 0: a fresh catalog (refused with
 * ST_USAGE when the file exists); update != 0: the existing catalog is
 * updated (ST_USAGE when it does not exist or was built with other image or
 * level settings). Collective over dist_comm(); returns the same status on
 * every rank (ST_DATA for bad input or too many rejects, ST_INTERRUPTED on a
 * stop signal, ST_USAGE for bad settings). The rejects CSV is written on
 * success and when the reject ratio is exceeded. `counts` may be NULL. */
int ingest_run(const struct config *cfg, const char *catalog_path, int update,
               struct ingest_counts *counts);

/* The rejects CSV path for a catalog: cfg->ingest.rejects_csv, or
 * "<catalog>.rejects.csv" when that is empty. */
void ingest_rejects_path(const struct config *cfg, const char *catalog_path, char *out,
                         size_t out_size);

#endif
