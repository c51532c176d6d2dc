/* image.c - JPEG (libjpeg-turbo) and PNG (libpng) decoding to RGB.
 *
 * Both libraries report errors by calling a handler that must not return;
 * ours longjmp back to the decode function. Everything that must survive the
 * longjmp (buffers to free) lives in a context struct reached through a
 * pointer, never in non-volatile locals.
 */
#include "ingest/image.h"

#include "util/check.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

void image_opts_default(struct image_opts *o) {
    o->max_pixels = IMAGE_DEFAULT_MAX_PIXELS;
    o->background[0] = o->background[1] = o->background[2] = 255;
    o->apply_exif = 1;
}

enum image_format image_detect(const void *bytes, size_t n) {
    const uint8_t *b = bytes;
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return IMAGE_FORMAT_JPEG;
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return IMAGE_FORMAT_PNG;
    if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0)) return IMAGE_FORMAT_GIF;
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) return IMAGE_FORMAT_WEBP;
    if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0)) return IMAGE_FORMAT_TIFF;
    if (n >= 14 && b[0] == 'B' && b[1] == 'M') return IMAGE_FORMAT_BMP;
    return IMAGE_FORMAT_UNKNOWN;
}

const char *image_format_name(enum image_format f) {
    switch (f) {
    case IMAGE_FORMAT_JPEG: return "JPEG";
    case IMAGE_FORMAT_PNG: return "PNG";
    case IMAGE_FORMAT_GIF: return "GIF";
    case IMAGE_FORMAT_BMP: return "BMP";
    case IMAGE_FORMAT_TIFF: return "TIFF";
    case IMAGE_FORMAT_WEBP: return "WebP";
    default: return "unknown";
    }
}

void image_free(struct image *im) {
    if (!im) return;
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

static int too_large(uint64_t w, uint64_t h, uint64_t limit) {
    return err_set(ST_DATA, "image too large (%llu x %llu > %llu pixels)", (unsigned long long)w,
                   (unsigned long long)h, (unsigned long long)limit);
}

/* ---- EXIF orientation ------------------------------------------------------ */

static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int image_exif_orientation(const uint8_t *a, size_t n) {
    /* "Exif\0\0" then a TIFF header: byte order, 42, offset of IFD0. */
    if (n < 14 || memcmp(a, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *t = a + 6;
    size_t tn = n - 6;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd > tn || tn - ifd < 2) return 1;
    unsigned count = rd16(t + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > tn) return 1;
        if (rd16(t + e, le) != 0x0112) continue;
        unsigned type = rd16(t + e + 2, le);
        unsigned v;
        if (type == 3) v = rd16(t + e + 8, le);        /* SHORT, left-justified */
        else if (type == 4) v = rd32(t + e + 8, le);   /* LONG (seen in the wild) */
        else return 1;
        return (v >= 1 && v <= 8) ? (int)v : 1;
    }
    return 1;
}

int image_orient(struct image *im, int orientation) {
    int rc = ST_OK;
    if (orientation <= 1 || orientation > 8) return ST_OK;
    const int w = im->width, h = im->height;
    const int swap = orientation >= 5;
    const int ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *out = NULL;
    TRY_ALLOC(out = malloc((size_t)w * h * 3));
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;             /* mirror horizontal */
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;     /* rotate 180 */
            case 4: sx = x; sy = h - 1 - y; break;             /* mirror vertical */
            case 5: sx = y; sy = x; break;                     /* transpose */
            case 6: sx = y; sy = h - 1 - x; break;             /* rotate 90 clockwise */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;     /* transverse */
            default: sx = w - 1 - y; sy = x; break;            /* 8: rotate 90 counter-clockwise */
            }
            memcpy(out + ((size_t)y * ow + x) * 3, im->pixels + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    free(im->pixels);
    im->pixels = out;
    im->width = ow;
    im->height = oh;
fail:
    return rc;
}

/* ---- JPEG ------------------------------------------------------------------ */

struct jpeg_ctx {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char reason[JMSG_LENGTH_MAX + 32];
    int status;
    uint8_t *pixels;     /* freed on failure */
    uint8_t *row;        /* CMYK scanline */
};

static void jpeg_on_error(j_common_ptr cinfo) {
    struct jpeg_ctx *c = (struct jpeg_ctx *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    snprintf(c->reason, sizeof c->reason, "corrupt JPEG (%s)", msg);
    c->status = ST_DATA;
    longjmp(c->jump, 1);
}

/* libjpeg only warns when the data ends early (it pads with a fake EOI and
 * returns grey): a truncated file must be an error. Other warnings (extra
 * bytes before a marker, ...) are tolerated as every viewer does. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    struct jpeg_ctx *c = (struct jpeg_ctx *)cinfo->err;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            snprintf(c->reason, sizeof c->reason, "truncated JPEG");
            c->status = ST_DATA;
            longjmp(c->jump, 1);
        }
        cinfo->err->num_warnings++;
    }
}

static inline uint8_t muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static int jpeg_run(const uint8_t *bytes, size_t n, const struct image_opts *o, struct image *out,
                    int probe_only) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    cinfo.err = jpeg_std_error(&ctx.mgr);
    ctx.mgr.error_exit = jpeg_on_error;
    ctx.mgr.emit_message = jpeg_on_message;
    struct jpeg_ctx *volatile pc = &ctx;
    if (setjmp(ctx.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pc->pixels);
        free(pc->row);
        return err_set(pc->status ? pc->status : ST_DATA, "%s", pc->reason);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, (unsigned long)n);
    if (o->apply_exif && !probe_only) jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
        snprintf(ctx.reason, sizeof ctx.reason, "corrupt JPEG (no image in the stream)");
        ctx.status = ST_DATA;
        longjmp(ctx.jump, 1);
    }
    const uint64_t w = cinfo.image_width, h = cinfo.image_height;
    out->width = (int)w; /* reported by image_probe() even when too large */
    out->height = (int)h;
    if (w * h > o->max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        return too_large(w, h, o->max_pixels);
    }
    out->width = (int)w;
    out->height = (int)h;
    if (probe_only) {
        jpeg_destroy_decompress(&cinfo);
        return ST_OK;
    }
    int orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        /* The first APP1 that holds Exif (XMP also lives in APP1). */
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            orientation = image_exif_orientation(m->data, m->data_length);
            break;
        }
    }
    const int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    /* Gray is expanded to RGB by libjpeg-turbo itself (R = G = B = Y). */
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    cinfo.dct_method = JDCT_ISLOW; /* what Pillow uses: bit-exact reference */
    jpeg_start_decompress(&cinfo);
    ctx.pixels = malloc((size_t)w * h * 3);
    if (cmyk) ctx.row = malloc((size_t)w * 4);
    if (!ctx.pixels || (cmyk && !ctx.row)) {
        snprintf(ctx.reason, sizeof ctx.reason, "out of memory decoding a %llu x %llu JPEG",
                 (unsigned long long)w, (unsigned long long)h);
        ctx.status = ST_ERR;
        longjmp(ctx.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = ctx.pixels + (size_t)cinfo.output_scanline * w * 3;
        JSAMPROW r = cmyk ? ctx.row : dst;
        jpeg_read_scanlines(&cinfo, &r, 1);
        if (cmyk) {
            /* Adobe writes CMYK inverted; Pillow reads it as "CMYK;I" and
             * converts with R = (255-K) - C*(255-K)/255 where C, K are the
             * un-inverted inks. Same integer arithmetic here. */
            for (uint64_t x = 0; x < w; x++) {
                unsigned nk = ctx.row[x * 4 + 3];
                for (int ch = 0; ch < 3; ch++) {
                    unsigned c = 255u - ctx.row[x * 4 + ch];
                    int v = (int)nk - muldiv255(c, nk);
                    dst[x * 3 + ch] = (uint8_t)(v < 0 ? 0 : v);
                }
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(ctx.row);
    out->pixels = ctx.pixels;
    if (orientation != 1) {
        int rc = image_orient(out, orientation);
        if (rc != ST_OK) {
            image_free(out);
            return rc;
        }
    }
    return ST_OK;
}

/* ---- PNG ------------------------------------------------------------------- */

struct png_ctx {
    const uint8_t *data;
    size_t size, pos;
    int truncated;
    char reason[256];
    uint8_t *pixels;    /* (h, w, channels) while decoding */
    png_bytep *rows;
};

static void png_on_read(png_structp png, png_bytep out, size_t n) {
    struct png_ctx *c = png_get_io_ptr(png);
    if (c->size - c->pos < n) {
        c->truncated = 1;
        png_error(png, "read past the end of the data");
    }
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg) {
    struct png_ctx *c = png_get_error_ptr(png);
    if (c->truncated) snprintf(c->reason, sizeof c->reason, "truncated PNG");
    else if (strstr(msg, "CRC error")) snprintf(c->reason, sizeof c->reason, "corrupt PNG (CRC error)");
    else snprintf(c->reason, sizeof c->reason, "corrupt PNG (%s)", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static int png_run(const uint8_t *bytes, size_t n, const struct image_opts *o, struct image *out,
                   int probe_only) {
    struct png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.data = bytes;
    ctx.size = n;
    struct png_ctx *volatile pc = &ctx;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    if (!png) return err_set(ST_ERR, "out of memory creating a PNG reader");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return err_set(ST_ERR, "out of memory creating a PNG reader");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pc->pixels);
        free(pc->rows);
        return err_set(ST_DATA, "%s", pc->reason);
    }
    png_set_read_fn(png, &ctx, png_on_read);
    png_read_info(png, info);
    const uint64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    out->width = (int)w;
    out->height = (int)h;
    if (w * h > o->max_pixels) {
        png_destroy_read_struct(&png, &info, NULL);
        return too_large(w, h, o->max_pixels);
    }
    out->width = (int)w;
    out->height = (int)h;
    if (probe_only) {
        png_destroy_read_struct(&png, &info, NULL);
        return ST_OK;
    }
    const int type = png_get_color_type(png, info);
    const int has_alpha = (type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);
    png_set_expand(png);          /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_strip_16(png);        /* keep the high byte */
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int channels = png_get_channels(png, info);
    if (channels != (has_alpha ? 4 : 3) || png_get_rowbytes(png, info) != w * channels) {
        snprintf(ctx.reason, sizeof ctx.reason, "corrupt PNG (unexpected layout: %d channels)", channels);
        png_longjmp(png, 1);
    }
    ctx.pixels = malloc((size_t)w * h * channels);
    ctx.rows = malloc((size_t)h * sizeof *ctx.rows);
    if (!ctx.pixels || !ctx.rows) {
        png_destroy_read_struct(&png, &info, NULL);
        free(ctx.pixels);
        free(ctx.rows);
        return err_set(ST_ERR, "out of memory decoding a %llu x %llu PNG", (unsigned long long)w,
                       (unsigned long long)h);
    }
    for (uint64_t y = 0; y < h; y++) ctx.rows[y] = ctx.pixels + y * w * channels;
    png_read_image(png, ctx.rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(ctx.rows);
    if (channels == 4) {
        /* Composite over the background: round(c*a/255 + bg*(255-a)/255),
         * written into the same buffer (3 bytes out per 4 in). */
        const uint8_t *bg = o->background;
        const size_t npix = (size_t)w * h;
        for (size_t i = 0; i < npix; i++) {
            const uint8_t *s = ctx.pixels + i * 4;
            unsigned a = s[3];
            uint8_t px[3];
            for (int ch = 0; ch < 3; ch++)
                px[ch] = (uint8_t)((s[ch] * a + bg[ch] * (255u - a) + 127u) / 255u);
            memcpy(ctx.pixels + i * 3, px, 3);
        }
        uint8_t *shrunk = realloc(ctx.pixels, npix * 3);
        if (shrunk) ctx.pixels = shrunk;
    }
    out->pixels = ctx.pixels;
    return ST_OK;
}

/* ---- entry points ---------------------------------------------------------- */

static int dispatch(const void *bytes, size_t n, const struct image_opts *o, struct image *out,
                    enum image_format *fmt_out, int probe_only) {
    struct image_opts def;
    if (!o) {
        image_opts_default(&def);
        o = &def;
    }
    memset(out, 0, sizeof *out);
    if (fmt_out) *fmt_out = IMAGE_FORMAT_UNKNOWN;
    if (n == 0) return err_set(ST_DATA, "empty file");
    enum image_format f = image_detect(bytes, n);
    if (fmt_out) *fmt_out = f;
    switch (f) {
    case IMAGE_FORMAT_JPEG: return jpeg_run(bytes, n, o, out, probe_only);
    case IMAGE_FORMAT_PNG: return png_run(bytes, n, o, out, probe_only);
    case IMAGE_FORMAT_UNKNOWN: return err_set(ST_DATA, "not an image");
    default: return err_set(ST_DATA, "unsupported format (%s)", image_format_name(f));
    }
}

int image_decode(const void *bytes, size_t n, const struct image_opts *o, struct image *out) {
    int rc = dispatch(bytes, n, o, out, NULL, 0);
    if (rc != ST_OK) memset(out, 0, sizeof *out);
    return rc;
}

int image_probe(const void *bytes, size_t n, const struct image_opts *o, enum image_format *format,
                int *width, int *height) {
    struct image im;
    int rc = dispatch(bytes, n, o, &im, format, 1);
    *width = im.width;
    *height = im.height;
    return rc;
}
