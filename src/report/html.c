/* html.c - text buffer, escaping, base64, PNG thumbnails (see html.h). */
#include "report/html.h"

#include <math.h>
#include <png.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

static int hb_reserve(struct hbuf *b, size_t extra) {
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + extra + 1) nc *= 2;
    char *ns = realloc(b->s, nc);
    if (!ns) {
        b->oom = 1;
        return 0;
    }
    b->s = ns;
    b->cap = nc;
    return 1;
}

static void hb_put(struct hbuf *b, const char *s, size_t n) {
    if (!hb_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void hb_puts(struct hbuf *b, const char *s) { hb_put(b, s, strlen(s)); }

void hb_printf(struct hbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        hb_put(b, small, (size_t)n);
        return;
    }
    if (!hb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of a valid UTF-8 sequence at s, 0 when invalid. */
static size_t utf8_seq(const unsigned char *s) {
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void hb_text(struct hbuf *b, const char *s) {
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        switch (*p) {
        case '&': hb_puts(b, "&amp;"); p++; continue;
        case '<': hb_puts(b, "&lt;"); p++; continue;
        case '>': hb_puts(b, "&gt;"); p++; continue;
        case '"': hb_puts(b, "&quot;"); p++; continue;
        case '\'': hb_puts(b, "&#39;"); p++; continue;
        default: break;
        }
        if (*p < 0x20 || *p == 0x7F) {
            hb_put(b, *p == '\n' || *p == '\t' ? (const char *)p : " ", 1);
            p++;
        } else if (*p < 0x80) {
            hb_put(b, (const char *)p, 1);
            p++;
        } else {
            size_t n = utf8_seq(p);
            if (n) {
                hb_put(b, (const char *)p, n);
                p += n;
            } else {
                hb_puts(b, "\xEF\xBF\xBD");   /* U+FFFD */
                p++;
            }
        }
    }
}

void hb_attr(struct hbuf *b, const char *s) { hb_text(b, s); }

void hb_num(struct hbuf *b, double v) {
    if (isnan(v)) hb_puts(b, "NaN");
    else hb_printf(b, "%.17g", v);
}

void hb_base64(struct hbuf *b, const uint8_t *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!hb_reserve(b, (n + 2) / 3 * 4)) return;
    char *o = b->s + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t x = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *o++ = tab[x >> 18], *o++ = tab[(x >> 12) & 63], *o++ = tab[(x >> 6) & 63], *o++ = tab[x & 63];
    }
    if (n - i == 1) {
        uint32_t x = (uint32_t)d[i] << 16;
        *o++ = tab[x >> 18], *o++ = tab[(x >> 12) & 63], *o++ = '=', *o++ = '=';
    } else if (n - i == 2) {
        uint32_t x = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8;
        *o++ = tab[x >> 18], *o++ = tab[(x >> 12) & 63], *o++ = tab[(x >> 6) & 63], *o++ = '=';
    }
    b->len = (size_t)(o - b->s);
    b->s[b->len] = '\0';
}

void hb_free(struct hbuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ---- PNG ----------------------------------------------------------------- */

struct png_mem {
    uint8_t *data;
    size_t len, cap;
    int oom;
};

static void png_mem_write(png_structp png, png_bytep d, size_t n) {
    struct png_mem *m = png_get_io_ptr(png);
    if (m->oom) return;
    if (m->len + n > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 4096;
        while (nc < m->len + n) nc *= 2;
        uint8_t *nd = realloc(m->data, nc);
        if (!nd) {
            m->oom = 1;
            return;
        }
        m->data = nd, m->cap = nc;
    }
    memcpy(m->data + m->len, d, n);
    m->len += n;
}

static void png_mem_flush(png_structp png) { (void)png; }

static void png_on_error(png_structp png, png_const_charp msg) {
    (void)msg;
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

int png_encode_rgb(const uint8_t *rgb, int width, int height, uint8_t **png_out, size_t *png_bytes) {
    *png_out = NULL;
    *png_bytes = 0;
    struct png_mem m = {0};
    struct png_mem *volatile mp = &m;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_on_error, png_on_warning);
    if (!png) return err_set(ST_ERR, "png: cannot create the encoder");
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(mp->data);
        return err_set(ST_ERR, "png: encoding a %dx%d thumbnail failed", width, height);
    }
    png_set_write_fn(png, &m, png_mem_write, png_mem_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 9);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    if (m.oom) {
        free(m.data);
        return err_set(ST_ERR, "png: out of memory");
    }
    *png_out = m.data;
    *png_bytes = m.len;
    return ST_OK;
}

int thumb_scale(const uint8_t *rgb, int side, int max_side, uint8_t *out) {
    if (side <= max_side) {
        memcpy(out, rgb, (size_t)side * side * 3);
        return side;
    }
    int f = (side + max_side - 1) / max_side;   /* integer box factor */
    int os = side / f;
    for (int y = 0; y < os; y++)
        for (int x = 0; x < os; x++)
            for (int c = 0; c < 3; c++) {
                unsigned sum = 0;
                for (int dy = 0; dy < f; dy++)
                    for (int dx = 0; dx < f; dx++)
                        sum += rgb[((size_t)(y * f + dy) * side + (size_t)(x * f + dx)) * 3 + c];
                out[((size_t)y * os + x) * 3 + c] = (uint8_t)((sum + (unsigned)(f * f) / 2) / (unsigned)(f * f));
            }
    return os;
}

int hb_png_data_uri(struct hbuf *b, const uint8_t *rgb, int side, int max_side) {
    uint8_t *small = malloc((size_t)max_side * max_side * 3 + (size_t)side * side * 3);
    if (!small) return err_set(ST_ERR, "out of memory for a thumbnail");
    int s = thumb_scale(rgb, side, max_side, small);
    uint8_t *png = NULL;
    size_t n = 0;
    int rc = png_encode_rgb(small, s, s, &png, &n);
    free(small);
    if (rc != ST_OK) return rc;
    hb_puts(b, "data:image/png;base64,");
    hb_base64(b, png, n);
    free(png);
    return ST_OK;
}
