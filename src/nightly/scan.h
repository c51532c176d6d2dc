/* scan.h - what tonight's run would change: the new CSV against the catalog.
 *
 * Used by `assort nightly --plan` before anything runs. Reads the catalog
 * (read-only) and the CSV, and hashes each CSV row's image file with the
 * same XXH3-128 as ingest, so the counts are those `assort ingest --update`
 * will find (except rows it rejects as bad images). Local: rank 0's work,
 * call it from one process.
 */
#ifndef ASSORT_NIGHTLY_SCAN_H
#define ASSORT_NIGHTLY_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct night_scan {
    int catalog_exists;      /* 0: tonight creates it */
    int64_t rows;            /* rows in /products */
    int64_t active;          /* status active */
    int64_t dirty_now;       /* dirty already (an earlier extract did not finish) */
    int have_csv;            /* a CSV was compared */
    int64_t csv_rows;        /* records in the CSV */
    int64_t new_count;       /* ids not in the catalog */
    int64_t changed_count;   /* image hash, name or labels differ (incl. reactivated) */
    int64_t hash_changed;    /* of those, the image bytes differ */
    int64_t reactivated;     /* removed ids that come back */
    int64_t removed_count;   /* active ids absent from the CSV */
    int64_t unreadable;      /* CSV rows whose image cannot be read (ingest rejects them) */
    int64_t dirty_kept;      /* dirty now, unchanged tonight and still in the CSV */
    int64_t to_extract;      /* rows extract will process: new + changed + dirty_kept */
    int have_needs_sim;      /* /products/needs_similarity exists (else: every row needs it) */
    int64_t needs_sim_now;   /* active rows with valid features flagged needs_similarity */
    int64_t needs_sim_kept;  /* of those, unchanged tonight and still in the CSV */
    int64_t to_query;        /* rows `similarity --query changed` will query */
    int have_features;       /* /features/<backbone> complete */
    int64_t valid_features;  /* rows with valid features */
    int n_heads;             /* complete heads under /heads */
    char head[160];          /* the first complete head's name ("" none) */
    char last_similarity[96];  /* newest complete /similarity run ("" none) */
    char last_predictions[96]; /* newest complete /predictions run ("" none) */
    char last_night[96];       /* newest complete /nightly run ("" none) */
};

/* Fills *out from the catalog at `catalog_path` (which may not exist) and,
 * when csv_path is not NULL, from that CSV with images under images_root.
 * Column names, levels and the backbone come from cfg. ST_DATA with
 * file:line on a CSV missing a configured column; ST_ERR when unreadable. */
int night_scan(const char *catalog_path, const char *csv_path, const char *images_root,
               const struct config *cfg, struct night_scan *out);

/* Newest complete member of `group` ("/predictions", ...) into out ("" none). */
struct catalog;
int night_latest(struct catalog *c, const char *group, int skip, char *out, size_t out_size);

#endif
