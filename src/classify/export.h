/* export.h - predictions as CSV and JSONL text (docs/classify.md).
 *
 * One line per active product (removed products are skipped) of this rank's
 * rows, in row order; the caller gathers the ranks' text in rank order and
 * writes it atomically. CSV (RFC 4180): every text field is quoted with
 * inner quotes doubled, so commas, quotes, newlines and markup survive;
 * numbers are plain. JSONL: one JSON object per line, strings escaped
 * (quote, backslash, control characters), UTF-8 passed through.
 */
#ifndef ASSORT_CLASSIFY_EXPORT_H
#define ASSORT_CLASSIFY_EXPORT_H

#include <stdint.h>

#include "train/metrics.h"

#define EXPORT_NEIGHBOURS 3

/* One classified level; per-row arrays cover this rank's rows only. */
struct export_level {
    const char *level;
    int level_index;          /* column of /products/labels */
    const char *classes;      /* (classes_count, CATALOG_CLASS_BYTES) head classes */
    int classes_count;
    const char *orig;         /* (orig_count, CATALOG_CLASS_BYTES) /categories/<level> */
    int orig_count;
    const int32_t *pred;      /* (row_count) head class, -1 = not classified */
    const float *conf;        /* (row_count) */
    const int32_t *top3;      /* (row_count, 3) */
    const float *top3_score;  /* (row_count, 3) */
    const uint8_t *flags;     /* (row_count) enum classify_flag bits */
};

struct export_view {
    int64_t row_begin, row_count;  /* this rank's rows */
    const char *ids;          /* (N, CATALOG_ID_BYTES) */
    const char *names;        /* (N, CATALOG_NAME_BYTES) */
    const uint8_t *status;    /* (N) */
    const int32_t *labels;    /* (N, n_label_levels) original class or -1 */
    int n_label_levels;
    int n_levels;
    const struct export_level *lv;
    int k;                    /* neighbour list width, 0 = none */
    const int64_t *nb;        /* (N, k) fused neighbours, -1 pads; NULL = none */
    const float *s_img, *s_name, *s_fused; /* (N, k) */
    const int64_t *group_id, *group_size;  /* (N) or NULL */
};

/* The CSV header line (ends with "\n"). */
void export_csv_header(const struct export_view *v, struct sbuf *csv);

/* Appends this rank's rows to csv and jsonl. Local. Check sbuf.oom. */
void export_rows(const struct export_view *v, struct sbuf *csv, struct sbuf *jsonl);

/* Appends s as a quoted CSV field ("..." with inner quotes doubled). */
void export_csv_str(struct sbuf *b, const char *s);

/* Flag names joined by '|' into out ("" when none). */
void export_flag_names(uint8_t flags, char *out, int out_bytes);

#endif
