/* report_priv.h - what the report's section writers share (private to src/report). */
#ifndef ASSORT_REPORT_PRIV_H
#define ASSORT_REPORT_PRIV_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "report/html.h"
#include "report/report.h"
#include "report/runs.h"

struct report_ctx {
    struct catalog *c;
    const struct report_opts *o;
    struct hbuf *b;
    struct run_info *runs;
    int n_runs;
    int64_t n;              /* products */
    char *names;            /* (n, CATALOG_NAME_BYTES) or NULL */
    char *ids;              /* (n, CATALOG_ID_BYTES) or NULL */
    int32_t *labels;        /* (n, n_levels) or NULL */
    uint8_t *status;        /* (n) or NULL */
    int n_levels;
    char **levels;          /* (n_levels) level names */
    char ***classes;        /* (n_levels) -> class names of /categories/<level> */
    int64_t *n_classes;     /* (n_levels) */
    int image_side;         /* /images/pixels side, 0 when there are no images */
    char **thumbs;          /* (n) cached data: URIs, NULL until made */
};

/* Name of product `row` (its id when names are missing), NUL-terminated copy in out. */
void report_product_name(const struct report_ctx *x, int64_t row, char *out, size_t out_size);

/* Appends <img class="thumb" src="data:..." alt="name"> for a product row (a
 * grey placeholder box when there are no pixels). Collective (reads the
 * pixels row): every rank calls it for the same rows. */
int report_thumb(struct report_ctx *x, int64_t row);

/* Class name of class k at level index l ("?" when out of range). */
const char *report_class_name(const struct report_ctx *x, int level, int64_t k);

/* "not available" paragraph with the command that would make the data. */
void report_missing(struct report_ctx *x, const char *what, const char *how);

/* Sections written by report_gallery.c. */
int report_section_neighbours(struct report_ctx *x, const struct run_info *sim);
int report_section_duplicates(struct report_ctx *x, const struct run_info *sim);
int report_section_review(struct report_ctx *x);
int report_section_nightly(struct report_ctx *x);

#endif
