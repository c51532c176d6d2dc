/* test_report_html.c - report building blocks: HTML escaping (a product
 * named <script> stays text), RFC 4648 base64 test vectors, PNG thumbnails
 * decoded back by the ingest decoder (libpng read path) equal the pixels,
 * the box downscale against hand-computed means, and line-chart legends
 * laid out below the x-axis label (outside the plot area, inside the viewBox,
 * entries not on top of each other) for short and long, wrapping names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/image.h"
#include "report/html.h"
#include "testlib.h"
#include "util/status.h"

static void esc(const char *in, const char *want) {
    struct hbuf b = {0};
    hb_text(&b, in);
    EXPECT(b.s && !strcmp(b.s, want), "escape '%s' -> '%s', want '%s'", in, b.s ? b.s : "", want);
    hb_free(&b);
}

static void b64(const char *in, const char *want) {
    struct hbuf b = {0};
    hb_puts(&b, "");
    hb_base64(&b, (const uint8_t *)in, strlen(in));
    EXPECT(b.s && !strcmp(b.s, want), "base64 '%s' -> '%s', want '%s'", in, b.s ? b.s : "", want);
    hb_free(&b);
}

/* Value of attribute `name` (e.g. " y=\"") at or after p inside the element
 * starting at p; NAN when absent. */
static double attr_at(const char *p, const char *name) {
    const char *end = strchr(p, '>'), *a = strstr(p, name);
    double v = NAN;
    if (!a || (end && a > end) || sscanf(a + strlen(name), "%lf", &v) != 1) return NAN;
    return v;
}

/* Renders a line chart with `n` series named names[] and checks the legend
 * against the chart's own geometry read back from the SVG. */
static void legend_outside(const char *const *names, int n) {
    static const double y[5] = {0.2, 0.5, 0.9, 0.95, 1.0}; /* lines reach the top right */
    struct svg_series se[8];
    for (int i = 0; i < n; i++) se[i] = (struct svg_series){names[i], y, 5, i, i & 1};
    struct hbuf b = {0};
    svg_line_chart(&b, "c", "t", "epoch", "accuracy", se, n, 0, 1, 0);
    EXPECT(b.s != NULL, "chart rendered");
    if (!b.s) return;
    double vw = NAN, vh = NAN;
    const char *vb = strstr(b.s, "viewBox=\"");
    EXPECT(vb && sscanf(vb, "viewBox=\"0 0 %lf %lf", &vw, &vh) == 2, "viewBox");
    /* the x axis: the first axis line with y1 == y2; the plot is above it */
    double axis_y = NAN;
    for (const char *p = b.s; (p = strstr(p, "<line class=\"axis\"")); p++)
        if (attr_at(p, " y1=\"") == attr_at(p, " y2=\"")) {
            axis_y = attr_at(p, " y1=\"");
            break;
        }
    const char *lab = strstr(b.s, "<text class=\"label\"");
    double label_y = lab ? attr_at(lab, " y=\"") : NAN;
    EXPECT(isfinite(axis_y) && isfinite(label_y) && label_y > axis_y, "axis %g, x label %g", axis_y,
           label_y);
    double lx[8], ly[8];
    int k = 0;
    for (const char *p = b.s; (p = strstr(p, "<g class=\"legend")) && k < 8; p++, k++) {
        const char *ln = strstr(p, "<line"), *tx = strstr(p, "<text");
        double y1 = attr_at(ln, " y1=\""), x1 = attr_at(ln, " x1=\""), x2 = attr_at(ln, " x2=\"");
        double ty = attr_at(tx, " y=\""), txx = attr_at(tx, " x=\"");
        /* 12px text: its top is about 10 units above the baseline */
        EXPECT(y1 > label_y && ty - 10 > label_y, "legend %d (line y %g, text y %g) is not below the "
               "x-axis label (y %g)", k, y1, ty, label_y);
        EXPECT(ty + 3 <= vh && x1 >= 0 && x2 > x1 && txx < vw, "legend %d (%g..%g, %g) outside the "
               "viewBox %gx%g", k, x1, txx, ty, vw, vh);
        lx[k] = x1, ly[k] = y1;
    }
    EXPECT_INT(k, n);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < i; j++)
            EXPECT(fabs(lx[i] - lx[j]) > 20 || fabs(ly[i] - ly[j]) > 12,
                   "legend entries %d and %d overlap at (%g, %g)", j, i, lx[i], ly[i]);
    hb_free(&b);
}

int main(void) {
    esc("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
    esc("Tom & Jerry's \"tee\"", "Tom &amp; Jerry&#39;s &quot;tee&quot;");
    esc("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac");      /* valid UTF-8 kept */
    esc("a\xff" "b\xc3", "a\xef\xbf\xbd" "b\xef\xbf\xbd");            /* invalid -> U+FFFD */
    esc("x\x01y", "x y");
    /* RFC 4648 section 10 */
    b64("", "");
    b64("f", "Zg==");
    b64("fo", "Zm8=");
    b64("foo", "Zm9v");
    b64("foob", "Zm9vYg==");
    b64("fooba", "Zm9vYmE=");
    b64("foobar", "Zm9vYmFy");

    /* PNG round trip through the independent decoder */
    enum { W = 23, H = 17 };
    static uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)(i * 37 + (i / 3) * 11);
    uint8_t *png = NULL;
    size_t n = 0;
    EXPECT(png_encode_rgb(rgb, W, H, &png, &n) == ST_OK, "encode: %s", err_msg());
    EXPECT(n > 8 && png && !memcmp(png, "\x89PNG\r\n\x1a\n", 8), "PNG signature");
    struct image im = {0};
    EXPECT(image_decode(png, n, NULL, &im) == ST_OK, "decode: %s", err_msg());
    EXPECT(im.width == W && im.height == H, "size %dx%d", im.width, im.height);
    EXPECT(im.pixels && !memcmp(im.pixels, rgb, sizeof rgb), "pixels differ after the round trip");
    free(im.pixels);
    free(png);

    /* box downscale 4x4 -> 2x2 (factor 2): each output = rounded mean of a 2x2 block */
    uint8_t sq[4 * 4 * 3], out[4 * 4 * 3];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++) sq[(y * 4 + x) * 3 + c] = (uint8_t)(10 * y + x + 100 * c);
    int s = thumb_scale(sq, 4, 2, out);
    EXPECT_INT(s, 2);
    /* block (0,0): values 0,1,10,11 -> mean 5.5 -> 6 (round half up) */
    EXPECT_INT(out[0], 6);
    EXPECT_INT(out[((1 * 2) + 1) * 3 + 2], 228);          /* (22+23+32+33)/4 = 27.5 -> 28, +200 */
    EXPECT_INT(thumb_scale(sq, 4, 8, out), 4);         /* small images stay as they are */
    EXPECT(!memcmp(out, sq, sizeof sq), "copy when small");

    /* data URI */
    struct hbuf b = {0};
    EXPECT(hb_png_data_uri(&b, sq, 4, 64) == ST_OK, "data uri");
    EXPECT(b.s && !strncmp(b.s, "data:image/png;base64,iVBORw0KGgo", 33), "data uri prefix: %.40s", b.s);
    hb_free(&b);

    /* learning-curve legends: the report's two names, and six long ones that wrap */
    static const char *const two[] = {"train accuracy", "validation accuracy"};
    legend_outside(two, 2);
    static const char *const six[] = {"train accuracy (lite2, mlp)", "validation accuracy (lite2, mlp)",
                                      "train loss", "validation loss", "a much longer series name here",
                                      "x"};
    legend_outside(six, 6);
    return TEST_END();
}
