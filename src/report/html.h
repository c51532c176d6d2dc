/* html.h - building blocks of the self-contained HTML report: a growing text
 * buffer with HTML escaping, base64, PNG encoding into memory (libpng) and
 * thumbnails as data: URIs, and inline SVG charts.
 *
 * Everything is local and pure (no catalog access); report.c puts the pieces
 * together. All text that comes from data (product names, class names, run
 * ids, config values) goes through hb_text()/hb_attr(), never hb_puts().
 */
#ifndef ASSORT_REPORT_HTML_H
#define ASSORT_REPORT_HTML_H

#include <stddef.h>
#include <stdint.h>

/* A growing NUL-terminated buffer. An allocation failure sets oom and makes
 * every later append a no-op; check oom once at the end. Zero-initialise. */
struct hbuf {
    char *s;
    size_t len, cap;
    int oom;
};

void hb_puts(struct hbuf *b, const char *s);             /* raw markup, not escaped */
void hb_printf(struct hbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Escaped text content: & < > " ' become entities; invalid UTF-8 bytes become
 * U+FFFD; control characters other than \t \n become spaces. */
void hb_text(struct hbuf *b, const char *s);
/* Same escaping, for attribute values inside double quotes. */
void hb_attr(struct hbuf *b, const char *s);
/* A number for a data- attribute: %.17g (round-trips a double), "NaN" for NaN. */
void hb_num(struct hbuf *b, double v);
/* RFC 4648 base64 of data[0..size_bytes). */
void hb_base64(struct hbuf *b, const uint8_t *data, size_t size_bytes);
void hb_free(struct hbuf *b);

/* Encodes an RGB image (h, w, 3) as an 8-bit PNG into a malloc'ed buffer
 * (*png, *png_bytes; caller frees). ST_ERR on libpng failure or no memory. */
int png_encode_rgb(const uint8_t *rgb, int width, int height, uint8_t **png, size_t *png_bytes);

/* Box-filter downscale of a square RGB image (side, side, 3) to at most
 * max_side (kept as is when already small enough) into out
 * (out_side, out_side, 3), out_side returned. out must hold max_side^2 * 3. */
int thumb_scale(const uint8_t *rgb, int side, int max_side, uint8_t *out);

/* Appends `data:image/png;base64,...` of an RGB square image scaled to
 * max_side. ST_ERR when encoding fails. */
int hb_png_data_uri(struct hbuf *b, const uint8_t *rgb, int side, int max_side);

/* ---- SVG charts ---------------------------------------------------------
 * All charts are inline <svg> with a viewBox (they scale with the page),
 * axis labels, ticks and a legend; colours come from the stylesheet's
 * palette (classes s0..s5). Values are also written as data- attributes so a
 * test (or a reader) can recover the exact numbers. */

struct svg_series {
    const char *name;      /* legend label and data-series value */
    const double *y;       /* (count) values; NaN points are skipped */
    int count;
    int style;             /* palette index 0..5 */
    int dashed;
};

/* Line chart over x = 1..count (epochs). y range: [ymin, ymax] when
 * ymin < ymax, else from the data (with 0 included when include_zero). */
void svg_line_chart(struct hbuf *b, const char *id, const char *title, const char *xlabel,
                    const char *ylabel, const struct svg_series *series, int n_series, double ymin,
                    double ymax, int include_zero);

/* Heat map of an (n, n) count matrix (rows = true, columns = predicted),
 * colour = count / row total; cell text = count. labels (n) name rows and
 * columns. Cells carry data-row, data-col, data-count. */
void svg_confusion(struct hbuf *b, const char *id, const char *const *labels, int n,
                   const int64_t *counts);

/* Reliability diagram: per bin the mean confidence and accuracy before and
 * after temperature scaling (bins, NaN for empty bins), bars of the
 * accuracy and the diagonal. */
void svg_reliability(struct hbuf *b, const char *id, int bins, const double *acc_before,
                     const double *acc_after, const int64_t *count_before,
                     const int64_t *count_after, double ece_before, double ece_after,
                     double temperature);

/* Horizontal bar chart (labels (n), values (n)), for drift and counts. */
void svg_bars(struct hbuf *b, const char *id, const char *title, const char *const *labels,
              const double *values, int n, const char *value_label);

#endif
