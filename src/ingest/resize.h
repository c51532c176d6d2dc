/* resize.h - resize RGB images to the square input of the backbone.
 *
 * The resampler is a separable convolution with precomputed fixed-point
 * weights, the same arithmetic as Pillow's ImagingResample (Resample.c):
 * for each output pixel the filter is centred on the source coordinate
 * (x + 0.5) * scale, its support is widened by the scale factor when
 * downscaling (antialiasing: a triangle over 2 source pixels becomes a
 * triangle over 2*scale pixels), weights are normalised to sum 1, stored as
 * integers with 22 fraction bits, and each pass rounds and clamps to uint8.
 * The horizontal pass runs first, on the source rows the vertical pass needs.
 * So RESIZE_BILINEAR is Pillow's Image.BILINEAR (bilinear upscaling,
 * triangle-filter antialiased downscaling), RESIZE_BICUBIC Pillow's BICUBIC
 * (a = -0.5) and RESIZE_BOX Pillow's BOX (area averaging when downscaling).
 *
 * Geometry to a side S (see docs/ingest-images.md):
 *   pad:  the longer side becomes S, the shorter round(short * S / long)
 *         (at least 1); the result is centred on an S x S canvas of the
 *         background colour at ((S - w') / 2, (S - h') / 2), rounded down.
 *   crop: the centred square of side min(w, h) (fractional offsets allowed)
 *         is resampled to S x S.
 */
#ifndef ASSORT_RESIZE_H
#define ASSORT_RESIZE_H

#include <stddef.h>
#include <stdint.h>

enum resize_filter { RESIZE_BOX, RESIZE_BILINEAR, RESIZE_BICUBIC };
enum resize_fit { RESIZE_FIT_PAD, RESIZE_FIT_CROP };

struct resize_opts {
    int side;                  /* S: output is (S, S, 3); default 224 */
    enum resize_fit fit;       /* default pad */
    enum resize_filter filter; /* default bilinear */
    uint8_t background[3];     /* padding colour; default white */
};

/* Where a w x h source lands in the S x S output. */
struct resize_geom {
    int out_w, out_h;  /* size of the resampled picture */
    int off_x, off_y;  /* its top-left corner in the S x S output */
    double box[4];     /* source region resampled: x0, y0, x1, y1 (pixels) */
};

/* Defaults listed above. */
void resize_opts_default(struct resize_opts *o);

/* Parses "box" / "bilinear" / "bicubic" and "pad" / "crop"; ST_USAGE with a
 * message listing the choices otherwise. */
int resize_filter_parse(const char *name, enum resize_filter *out);
int resize_fit_parse(const char *name, enum resize_fit *out);

/* Computes the geometry for a w x h source (w, h >= 1, o->side >= 1). */
void resize_geometry(int w, int h, const struct resize_opts *o, struct resize_geom *g);

/* Resamples the region box (x0, y0, x1, y1 in source pixels, inside the
 * image, x1 > x0, y1 > y0) of src (h, w, 3) to out_w x out_h pixels written
 * at dst with a row stride of dst_stride_bytes. Returns ST_ERR on out of
 * memory, ST_USAGE on bad sizes. */
int resize_region(const uint8_t *src, int w, int h, const double box[4], int out_w, int out_h,
                  enum resize_filter filter, uint8_t *dst, size_t dst_stride_bytes);

/* A resizer caches the weights of the last source size (catalogs hold many
 * images of one size), so that resizer_run() only convolves. Not
 * thread-safe: one per thread. */
struct resizer;

/* Copies *o. Release with resizer_free(). */
int resizer_new(const struct resize_opts *o, struct resizer **out);

/* Resizes src (h, w, 3) RGB into dst (S, S, 3) by the options' geometry. */
int resizer_run(struct resizer *rz, const uint8_t *src, int w, int h, uint8_t *dst);

void resizer_free(struct resizer *rz);

#endif
