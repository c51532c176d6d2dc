/* resize.c - separable fixed-point resampling (Pillow's arithmetic; see
 * resize.h) and the pad / crop geometry. */
#include "ingest/resize.h"

#include "util/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)

/* Weights of one pass: output pixel i reads source pixels
 * [bounds[2i], bounds[2i] + bounds[2i+1]) with weights k[i*ksize ...]. */
struct coeffs {
    int out_count;
    int ksize;
    int taps;     /* largest count of non-zero weights of one output (<= ksize) */
    int *bounds;  /* (out_count, 2): first source index, count */
    int32_t *k;   /* (out_count, ksize), fixed point with PRECISION_BITS */
};

static double filter_box(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

static double filter_triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double filter_cubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static void coeffs_free(struct coeffs *c) {
    free(c->bounds);
    free(c->k);
    memset(c, 0, sizeof *c);
}

/* Weights for resampling [in0, in1) of a line of in_size pixels to out_size. */
static int coeffs_make(int in_size, double in0, double in1, int out_size, enum resize_filter f,
                       struct coeffs *c) {
    int rc = ST_OK;
    double (*fn)(double) = f == RESIZE_BOX ? filter_box : f == RESIZE_BICUBIC ? filter_cubic : filter_triangle;
    double base_support = f == RESIZE_BOX ? 0.5 : f == RESIZE_BICUBIC ? 2.0 : 1.0;
    double *w = NULL;
    memset(c, 0, sizeof *c);

    double scale = (in1 - in0) / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = base_support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    c->out_count = out_size;
    c->ksize = ksize;
    TRY_ALLOC(c->bounds = malloc((size_t)out_size * 2 * sizeof *c->bounds));
    TRY_ALLOC(c->k = calloc((size_t)out_size * ksize, sizeof *c->k));
    TRY_ALLOC(w = malloc((size_t)ksize * sizeof *w));
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax > ksize) xmax = ksize;
        if (xmax < 0) xmax = 0;
        for (int x = 0; x < xmax; x++) {
            w[x] = fn((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = c->k + (size_t)xx * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        /* Zero weights add nothing to the sums: drop them at both ends, so
         * a bilinear upscale reads 2 taps, not 3 (same results). */
        int lead = 0;
        while (lead < xmax && k[lead] == 0) lead++;
        while (xmax > lead && k[xmax - 1] == 0) xmax--;
        if (lead > 0) {
            memmove(k, k + lead, (size_t)(xmax - lead) * sizeof *k);
            memset(k + (xmax - lead), 0, (size_t)lead * sizeof *k);
            xmin += lead;
            xmax -= lead;
        }
        if (xmax > c->taps) c->taps = xmax;
        c->bounds[xx * 2] = xmin;
        c->bounds[xx * 2 + 1] = xmax;
    }
fail:
    free(w);
    if (rc != ST_OK) coeffs_free(c);
    return rc;
}

/* Rounds (the sums start at 1 << (PRECISION_BITS - 1)) and clamps a fixed
 * point sum to uint8; the same values as Pillow's clip8, without branches
 * so that the loops below vectorise. */
static inline uint8_t clip8(int32_t v) {
    v = v < 0 ? 0 : v;
    v >>= PRECISION_BITS;
    return (uint8_t)(v > 255 ? 255 : v);
}

/* A pass whose outputs read at most 2 source lines (any upscale with the
 * bilinear filter, after zero weights are dropped): output i is
 * k0 * line[first] + k1 * line[first + 1], with first + 1 inside the lines
 * the pass reads (a 1-tap output gets a zero weight on a neighbour). */
struct tap2 {
    int first;
    int32_t k0, k1;
};

/* Builds (c->out_count) tap2 entries for a pass reading lines [lo, hi);
 * *out stays NULL when the pass needs more than 2 taps or hi - lo < 2. */
static int tap2_make(const struct coeffs *c, int lo, int hi, struct tap2 **out) {
    int rc = ST_OK;
    struct tap2 *t = NULL;
    *out = NULL;
    if (c->taps > 2 || hi - lo < 2) return ST_OK;
    TRY_ALLOC(t = malloc((size_t)c->out_count * sizeof *t));
    for (int i = 0; i < c->out_count; i++) {
        const int first = c->bounds[i * 2], count = c->bounds[i * 2 + 1];
        const int32_t *k = c->k + (size_t)i * c->ksize;
        struct tap2 e = {lo, 0, 0};
        if (count == 2) e = (struct tap2){first, k[0], k[1]};
        else if (count == 1 && first + 1 < hi) e = (struct tap2){first, k[0], 0};
        else if (count == 1) e = (struct tap2){first - 1, 0, k[0]};
        t[i] = e;
    }
    *out = t;
fail:
    return rc;
}

/* out[i] = clip8(bias + a[i] * k0 + b[i] * k1) for i < n: one output line of
 * a 2-tap pass, element-wise over the interleaved channels. Built for AVX2
 * too (picked at load time where the CPU has it: 8 lanes and a 32-bit
 * multiply instead of SSE2's emulated one); integer arithmetic, so every
 * build gives the same bytes. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void lerp_line(const uint8_t *restrict a, const uint8_t *restrict b, int32_t k0, int32_t k1,
                      uint8_t *restrict out, size_t n) {
    const int32_t bias = 1 << (PRECISION_BITS - 1);
    for (size_t i = 0; i < n; i++) out[i] = clip8(bias + a[i] * k0 + b[i] * k1);
}

/* 2-tap horizontal pass done as a vertical one: the source rows are
 * transposed to (src_w, rows, 3) (in srcT), each output column is then one
 * lerp_line over `rows` pixels (into midT (out_w, rows, 3)), and midT is
 * transposed back to dst (rows, out_w, 3). Same sums as pass_horizontal. */
static void pass_horizontal_t2(const uint8_t *src, int src_w, int y0, int rows, const struct tap2 *t2,
                               int out_w, uint8_t *srcT, uint8_t *midT, uint8_t *dst) {
    const size_t col_bytes = (size_t)rows * 3;
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(y0 + y) * src_w * 3;
        for (int x = 0; x < src_w; x++) memcpy(srcT + x * col_bytes + (size_t)y * 3, in + (size_t)x * 3, 3);
    }
    for (int xx = 0; xx < out_w; xx++) {
        const uint8_t *a = srcT + (size_t)t2[xx].first * col_bytes;
        lerp_line(a, a + col_bytes, t2[xx].k0, t2[xx].k1, midT + (size_t)xx * col_bytes, col_bytes);
    }
    for (int y = 0; y < rows; y++) {
        uint8_t *out = dst + (size_t)y * out_w * 3;
        for (int xx = 0; xx < out_w; xx++) memcpy(out + (size_t)xx * 3, midT + xx * col_bytes + (size_t)y * 3, 3);
    }
}

/* Horizontal pass (any filter): rows [y0, y0 + rows) of src (stride
 * src_w*3) -> dst (rows, c->out_count, 3). */
static void pass_horizontal(const uint8_t *src, int src_w, int y0, int rows, const struct coeffs *c,
                            uint8_t *dst) {
    const int out_w = c->out_count, ksize = c->ksize;
    const int32_t bias = 1 << (PRECISION_BITS - 1);
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(y0 + y) * src_w * 3;
        uint8_t *out = dst + (size_t)y * out_w * 3;
        for (int xx = 0; xx < out_w; xx++) {
            const int xmin = c->bounds[xx * 2], xmax = c->bounds[xx * 2 + 1];
            const int32_t *k = c->k + (size_t)xx * ksize;
            const uint8_t *p = in + (size_t)xmin * 3;
            int32_t s0 = bias, s1 = bias, s2 = bias;
            for (int x = 0; x < xmax; x++) {
                s0 += p[x * 3 + 0] * k[x];
                s1 += p[x * 3 + 1] * k[x];
                s2 += p[x * 3 + 2] * k[x];
            }
            out[xx * 3 + 0] = clip8(s0);
            out[xx * 3 + 1] = clip8(s1);
            out[xx * 3 + 2] = clip8(s2);
        }
    }
}

/* Vertical pass: src (any rows, row_bytes = width*3) -> dst rows of
 * c->out_count with stride dst_stride. bounds are relative to src row 0
 * minus `shift`. acc is (row_bytes) scratch. t2: the 2-tap form of c, or
 * NULL. The 3 channels are one run of row_bytes bytes: the inner loops are
 * plain element-wise and vectorise. */
static void pass_vertical(const uint8_t *src, size_t row_bytes, int shift, const struct coeffs *c,
                          const struct tap2 *t2, uint8_t *dst, size_t dst_stride, int32_t *acc) {
    const int ksize = c->ksize;
    const int32_t bias = 1 << (PRECISION_BITS - 1);
    for (int yy = 0; yy < c->out_count; yy++) {
        uint8_t *restrict out = dst + (size_t)yy * dst_stride;
        if (t2) {
            const uint8_t *a = src + (size_t)(t2[yy].first - shift) * row_bytes;
            lerp_line(a, a + row_bytes, t2[yy].k0, t2[yy].k1, out, row_bytes);
            continue;
        }
        const int ymin = c->bounds[yy * 2] - shift, ymax = c->bounds[yy * 2 + 1];
        const int32_t *k = c->k + (size_t)yy * ksize;
        for (size_t i = 0; i < row_bytes; i++) acc[i] = bias;
        for (int y = 0; y < ymax; y++) {
            const uint8_t *in = src + (size_t)(ymin + y) * row_bytes;
            const int32_t ky = k[y];
            for (size_t i = 0; i < row_bytes; i++) acc[i] += in[i] * ky;
        }
        for (size_t i = 0; i < row_bytes; i++) out[i] = clip8(acc[i]);
    }
}

/* Everything one geometry needs, built once and reused. */
struct plan {
    int src_w, src_h, out_w, out_h;
    int need_h, need_v;
    int y_first, y_last;     /* source rows the vertical pass reads */
    struct coeffs ch, cv;
    struct tap2 *th, *tv;    /* 2-tap forms of ch, cv, or NULL */
    uint8_t *tmp;            /* (y_last - y_first, out_w, 3) */
    uint8_t *srcT, *midT;    /* with th: (src_w, rows, 3), (out_w, rows, 3) */
    int32_t *acc;            /* (max(out_w, src_w) * 3) */
};

static void plan_free(struct plan *p) {
    coeffs_free(&p->ch);
    coeffs_free(&p->cv);
    free(p->th);
    free(p->tv);
    free(p->tmp);
    free(p->srcT);
    free(p->midT);
    free(p->acc);
    memset(p, 0, sizeof *p);
}

static int plan_make(int w, int h, const double box[4], int out_w, int out_h, enum resize_filter f,
                     struct plan *p) {
    int rc = ST_OK;
    memset(p, 0, sizeof *p);
    REQUIRE(w > 0 && h > 0 && out_w > 0 && out_h > 0, ST_USAGE, "resize: bad sizes %dx%d -> %dx%d", w, h,
            out_w, out_h);
    REQUIRE(box[0] >= 0 && box[1] >= 0 && box[2] <= w && box[3] <= h && box[2] > box[0] && box[3] > box[1],
            ST_USAGE, "resize: box (%g, %g, %g, %g) is not inside the %dx%d image", box[0], box[1], box[2],
            box[3], w, h);
    p->src_w = w, p->src_h = h, p->out_w = out_w, p->out_h = out_h;
    p->need_h = out_w != w || box[0] != 0 || box[2] != out_w;
    p->need_v = out_h != h || box[1] != 0 || box[3] != out_h;
    TRY(coeffs_make(w, box[0], box[2], out_w, f, &p->ch));
    TRY(coeffs_make(h, box[1], box[3], out_h, f, &p->cv));
    p->y_first = p->cv.bounds[0];
    p->y_last = p->cv.bounds[out_h * 2 - 2] + p->cv.bounds[out_h * 2 - 1];
    if (!p->need_v) p->y_first = 0, p->y_last = h;
    TRY(tap2_make(&p->ch, 0, w, &p->th));
    TRY(tap2_make(&p->cv, p->y_first, p->y_last, &p->tv));
    if (p->need_h) {
        const size_t rows = (size_t)(p->y_last - p->y_first);
        TRY_ALLOC(p->tmp = malloc(rows * out_w * 3));
        if (p->th) {
            TRY_ALLOC(p->srcT = malloc(rows * w * 3));
            TRY_ALLOC(p->midT = malloc(rows * out_w * 3));
        }
    }
    TRY_ALLOC(p->acc = malloc((size_t)(out_w > w ? out_w : w) * 3 * sizeof *p->acc));
fail:
    if (rc != ST_OK) plan_free(p);
    return rc;
}

static void plan_run(const struct plan *p, const uint8_t *src, uint8_t *dst, size_t dst_stride) {
    const uint8_t *mid = src;
    size_t mid_row_bytes = (size_t)p->src_w * 3;
    int shift = 0;
    if (p->need_h) {
        if (p->th)
            pass_horizontal_t2(src, p->src_w, p->y_first, p->y_last - p->y_first, p->th, p->out_w,
                               p->srcT, p->midT, p->tmp);
        else
            pass_horizontal(src, p->src_w, p->y_first, p->y_last - p->y_first, &p->ch, p->tmp);
        mid = p->tmp;
        mid_row_bytes = (size_t)p->out_w * 3;
        shift = p->y_first;
    }
    if (p->need_v) {
        pass_vertical(mid, mid_row_bytes, shift, &p->cv, p->tv, dst, dst_stride, p->acc);
    } else {
        for (int y = 0; y < p->out_h; y++)
            memcpy(dst + (size_t)y * dst_stride, mid + (size_t)y * mid_row_bytes, mid_row_bytes);
    }
}

int resize_region(const uint8_t *src, int w, int h, const double box[4], int out_w, int out_h,
                  enum resize_filter filter, uint8_t *dst, size_t dst_stride_bytes) {
    struct plan p;
    int rc = plan_make(w, h, box, out_w, out_h, filter, &p);
    if (rc != ST_OK) return rc;
    plan_run(&p, src, dst, dst_stride_bytes);
    plan_free(&p);
    return ST_OK;
}

void resize_opts_default(struct resize_opts *o) {
    o->side = 224;
    o->fit = RESIZE_FIT_PAD;
    o->filter = RESIZE_BILINEAR;
    o->background[0] = o->background[1] = o->background[2] = 255;
}

int resize_filter_parse(const char *name, enum resize_filter *out) {
    if (strcmp(name, "box") == 0) *out = RESIZE_BOX;
    else if (strcmp(name, "bilinear") == 0) *out = RESIZE_BILINEAR;
    else if (strcmp(name, "bicubic") == 0) *out = RESIZE_BICUBIC;
    else return err_set(ST_USAGE, "unknown resize filter '%s'; choose box, bilinear or bicubic", name);
    return ST_OK;
}

int resize_fit_parse(const char *name, enum resize_fit *out) {
    if (strcmp(name, "pad") == 0) *out = RESIZE_FIT_PAD;
    else if (strcmp(name, "crop") == 0) *out = RESIZE_FIT_CROP;
    else return err_set(ST_USAGE, "unknown resize fit '%s'; choose pad or crop", name);
    return ST_OK;
}

void resize_geometry(int w, int h, const struct resize_opts *o, struct resize_geom *g) {
    const int s = o->side;
    if (o->fit == RESIZE_FIT_CROP) {
        const int m = w < h ? w : h;
        g->out_w = g->out_h = s;
        g->off_x = g->off_y = 0;
        g->box[0] = (w - m) / 2.0;
        g->box[1] = (h - m) / 2.0;
        g->box[2] = g->box[0] + m;
        g->box[3] = g->box[1] + m;
        return;
    }
    if (w >= h) {
        g->out_w = s;
        g->out_h = (int)floor((double)h * s / w + 0.5);
    } else {
        g->out_h = s;
        g->out_w = (int)floor((double)w * s / h + 0.5);
    }
    if (g->out_w < 1) g->out_w = 1;
    if (g->out_h < 1) g->out_h = 1;
    g->off_x = (s - g->out_w) / 2;
    g->off_y = (s - g->out_h) / 2;
    g->box[0] = g->box[1] = 0;
    g->box[2] = w;
    g->box[3] = h;
}

struct resizer {
    struct resize_opts opts;
    struct plan plan;        /* for plan.src_w x plan.src_h; src_w 0 = none */
    struct resize_geom geom;
    uint8_t *bg_row;         /* (S, 3) background colour, made on first use */
};

int resizer_new(const struct resize_opts *o, struct resizer **out) {
    int rc = ST_OK;
    struct resizer *rz = NULL;
    *out = NULL;
    REQUIRE(o->side >= 1 && o->side <= 65535, ST_USAGE, "resize: side %d must be in 1..65535", o->side);
    TRY_ALLOC(rz = calloc(1, sizeof *rz));
    rz->opts = *o;
    *out = rz;
fail:
    return rc;
}

int resizer_run(struct resizer *rz, const uint8_t *src, int w, int h, uint8_t *dst) {
    int rc = ST_OK;
    const int s = rz->opts.side;
    REQUIRE(w > 0 && h > 0, ST_USAGE, "resize: empty %dx%d image", w, h);
    if (rz->plan.src_w != w || rz->plan.src_h != h) {
        plan_free(&rz->plan);
        resize_geometry(w, h, &rz->opts, &rz->geom);
        TRY(plan_make(w, h, rz->geom.box, rz->geom.out_w, rz->geom.out_h, rz->opts.filter, &rz->plan));
    }
    const struct resize_geom *g = &rz->geom;
    if (g->out_w < s || g->out_h < s) {
        /* Background only where the picture does not land. */
        if (!rz->bg_row) {
            TRY_ALLOC(rz->bg_row = malloc((size_t)s * 3));
            for (int x = 0; x < s; x++) memcpy(rz->bg_row + x * 3, rz->opts.background, 3);
        }
        for (int y = 0; y < s; y++) {
            uint8_t *row = dst + (size_t)y * s * 3;
            int inside = y >= g->off_y && y < g->off_y + g->out_h;
            int x0 = inside ? g->off_x : s, x1 = inside ? g->off_x + g->out_w : s;
            memcpy(row, rz->bg_row, (size_t)x0 * 3);
            memcpy(row + (size_t)x1 * 3, rz->bg_row, (size_t)(s - x1) * 3);
        }
    }
    plan_run(&rz->plan, src, dst + ((size_t)g->off_y * s + g->off_x) * 3, (size_t)s * 3);
fail:
    return rc;
}

void resizer_free(struct resizer *rz) {
    if (!rz) return;
    plan_free(&rz->plan);
    free(rz->bg_row);
    free(rz);
}
