/* image.h - decode JPEG and PNG bytes into 8-bit RGB.
 *
 * The caller reads a file once and hands its bytes here (so the same bytes
 * are hashed and decoded). The format is found from the magic bytes, never
 * from the file name. JPEG goes through libjpeg-turbo (baseline, progressive,
 * grayscale, CMYK and YCCK with Adobe's inverted CMYK convention, EXIF
 * orientation 1-8 applied); PNG through libpng (palette, gray, gray+alpha,
 * 8 and 16 bits, alpha, interlaced, tRNS), with any alpha composited over a
 * background colour. 16-bit samples keep their high byte (as Pillow does for
 * RGB;16B); gAMA/iCCP are ignored (as Pillow does).
 *
 * A failure on bad data returns ST_DATA and err_msg() holds one of these
 * stable reasons (the ingest rejects table stores them verbatim; see
 * docs/ingest-images.md):
 *   "empty file"
 *   "not an image"
 *   "unsupported format (GIF)"   also (BMP), (TIFF), (WebP)
 *   "image too large (W x H > LIMIT pixels)"   W, H, LIMIT are numbers
 *   "truncated JPEG"
 *   "corrupt JPEG (<libjpeg's message>)"
 *   "truncated PNG"
 *   "corrupt PNG (CRC error)"
 *   "corrupt PNG (<libpng's message>)"
 * ST_ERR means out of memory. libjpeg/libpng errors never end the process
 * (their handlers longjmp back here).
 */
#ifndef ASSORT_IMAGE_H
#define ASSORT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Pillow's decompression-bomb threshold (Image.MAX_IMAGE_PIXELS). */
#define IMAGE_DEFAULT_MAX_PIXELS 89478485ULL

enum image_format {
    IMAGE_FORMAT_UNKNOWN = 0,
    IMAGE_FORMAT_JPEG,
    IMAGE_FORMAT_PNG,
    IMAGE_FORMAT_GIF,
    IMAGE_FORMAT_BMP,
    IMAGE_FORMAT_TIFF,
    IMAGE_FORMAT_WEBP
};

struct image_opts {
    uint64_t max_pixels;    /* refuse width*height above this, from the header,
                               before any pixel memory is allocated */
    uint8_t background[3];  /* RGB that alpha is composited over */
    int apply_exif;         /* 1: apply the JPEG EXIF orientation */
};

/* A decoded image; pixels is malloc'ed and owned by the struct. */
struct image {
    int width, height;
    uint8_t *pixels;        /* (height, width, 3) RGB, row-major */
};

/* Defaults: max_pixels = IMAGE_DEFAULT_MAX_PIXELS, white background,
 * EXIF orientation applied. */
void image_opts_default(struct image_opts *o);

/* The format named by the first bytes (needs no more than 12 bytes). */
enum image_format image_detect(const void *bytes, size_t size_bytes);

/* Short name of a format ("JPEG", "PNG", "GIF", ...; "unknown"). */
const char *image_format_name(enum image_format f);

/* Decodes bytes[0..size_bytes) into *out (RGB, orientation applied).
 * `o` may be NULL for the defaults. On success the caller owns out->pixels
 * (release with image_free). On failure *out is zeroed and err_msg() holds
 * one of the reasons listed above. Thread-safe (no shared state). */
int image_decode(const void *bytes, size_t size_bytes, const struct image_opts *o,
                 struct image *out);

/* Reads only the header: the format, the stored width and height (before
 * EXIF orientation) and the same "image too large" check. Same reasons as
 * image_decode() for what it can see. */
int image_probe(const void *bytes, size_t size_bytes, const struct image_opts *o,
                enum image_format *format, int *width, int *height);

/* Frees the pixels and zeroes *im. NULL and zeroed images are fine. */
void image_free(struct image *im);

/* The EXIF orientation (1-8) in a JPEG's APP1 Exif IFD0, or 1 when absent or
 * unreadable. `app1` is the APP1 payload after the marker length. */
int image_exif_orientation(const uint8_t *app1, size_t size_bytes);

/* Applies EXIF orientation `orientation` (1-8) to an RGB image in place
 * (the pixel buffer is replaced; width and height swap for 5-8). */
int image_orient(struct image *im, int orientation);

#endif
