/* report.h - `assort report`: one self-contained HTML file about a catalog's runs.
 *
 * The file has no external references: charts are inline SVG made here,
 * thumbnails are PNG data: URIs encoded from /images/pixels, the stylesheet
 * and a few lines of table-sorting JavaScript are inline. Each section is
 * rendered when its data exist in the catalog and otherwise says "not
 * available in this catalog" with the command that would produce it.
 * Sections and how each number is computed: docs/report.md.
 */
#ifndef ASSORT_REPORT_REPORT_H
#define ASSORT_REPORT_REPORT_H

#include "catalog/catalog.h"

struct report_opts {
    const char *run_id;    /* NULL: the newest complete train run (else newest run) */
    const char *out_path;  /* the HTML file, written atomically */
    int gallery_rows;      /* nearest-neighbour rows shown */
    int review_rows;       /* review-queue rows shown */
    int thumb_px;          /* thumbnail side in pixels (e.g. 64) */
};

/* Builds the report of the catalog `c` (opened read-only at catalog_path)
 * and writes it to o->out_path (rank 0, atomically). Collective: every rank
 * reads the same data; the result is agreed. ST_USAGE when o->run_id names
 * no run; ST_ERR on I/O failure. */
int report_write(struct catalog *c, const char *catalog_path, const struct report_opts *o);

#endif
