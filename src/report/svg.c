/* svg.c - inline SVG charts for the report (declared in html.h).
 *
 * Geometry is in viewBox units; the stylesheet (report.c) sets fonts and the
 * palette classes s0..s5 (stroke/fill), so charts follow the page's colours. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/html.h"

/* "Nice" tick step for a range (1, 2 or 5 x 10^k) giving about `want` ticks. */
static double nice_step(double range, int want) {
    if (!(range > 0)) return 1;
    double raw = range / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(char *out, size_t n, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    snprintf(out, n, "%.*f", dec, fabs(v) < step * 1e-6 ? 0.0 : v);
}

/* Legend of a line chart: one row of entries (line sample + name) below the
 * x-axis label, wrapping to more rows when the names do not fit in the
 * width, so it never covers the plot area. Entry width is estimated from the
 * name (12px font, about 6.6 units per character). Advances (*x, *row) past
 * the entry for `name` and returns the x where that entry starts. */
static double legend_place(const char *name, double left, double right, double *x, int *row) {
    double w = 26 + 6.6 * (double)strlen(name) + 18;
    if (*x > left && *x + w > right) *x = left, ++*row;
    double at = *x;
    *x += w;
    return at;
}

void svg_line_chart(struct hbuf *b, const char *id, const char *title, const char *xlabel,
                    const char *ylabel, const struct svg_series *series, int n_series, double ymin,
                    double ymax, int include_zero) {
    const double W = 520, H0 = 300, L = 58, R = 16, T = 34, B = 46, LEG_ROW = 18;
    int nx = 0, leg_rows = 0;
    double leg_x = L;
    for (int s = 0; s < n_series; s++)
        legend_place(series[s].name ? series[s].name : "", L, W - R, &leg_x, &leg_rows);
    if (n_series > 0) leg_rows++;
    const double H = H0 + 6 + LEG_ROW * leg_rows; /* the plot keeps its size; the legend adds rows */
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < n_series; s++) {
        if (series[s].count > nx) nx = series[s].count;
        for (int i = 0; i < series[s].count; i++)
            if (isfinite(series[s].y[i])) {
                if (series[s].y[i] < lo) lo = series[s].y[i];
                if (series[s].y[i] > hi) hi = series[s].y[i];
            }
    }
    if (ymin < ymax) lo = ymin, hi = ymax;
    else {
        if (!isfinite(lo)) lo = 0, hi = 1;
        if (include_zero && lo > 0) lo = 0;
        if (hi - lo < 1e-12) hi = lo + 1;
        double pad = (hi - lo) * 0.05;
        hi += pad;
        if (!(include_zero && lo == 0)) lo -= pad;
    }
    double ystep = nice_step(hi - lo, 5);
    if (!(ymin < ymax)) lo = floor(lo / ystep) * ystep, hi = ceil(hi / ystep) * ystep;
    double pw = W - L - R, ph = H0 - T - B;
    int xmax = nx > 1 ? nx : 2;
#define PX(x) (L + ((x) - 1) * pw / (xmax - 1))
#define PY(y) (T + ph - ((y) - lo) * ph / (hi - lo))
    hb_printf(b, "<svg class=\"chart\" id=\"");
    hb_attr(b, id);
    hb_printf(b, "\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", W, H);
    hb_attr(b, title);
    hb_printf(b, "\"><text class=\"title\" x=\"%.0f\" y=\"20\">", L);
    hb_text(b, title);
    hb_puts(b, "</text>");
    char t[32];
    for (double v = lo; v <= hi + ystep * 1e-6; v += ystep) {
        fmt_tick(t, sizeof t, v, ystep);
        hb_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                  "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                  L, W - R, PY(v), PY(v), L - 6, PY(v) + 4, t);
    }
    double xstep = nice_step(xmax - 1, 8);
    if (xstep < 1) xstep = 1;
    for (double x = 1; x <= xmax + 1e-9; x += xstep)
        hb_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>",
                  PX(x), T + ph + 16, x);
    hb_printf(b, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
              "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>",
              L, W - R, T + ph, T + ph, L, L, T, T + ph);
    hb_printf(b, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", L + pw / 2, H0 - 8);
    hb_text(b, xlabel);
    hb_printf(b, "</text><text class=\"label\" transform=\"translate(14 %.1f) rotate(-90)\" "
              "text-anchor=\"middle\">", T + ph / 2);
    hb_text(b, ylabel);
    hb_puts(b, "</text>");
    leg_x = L, leg_rows = 0;
    for (int s = 0; s < n_series; s++) {
        const struct svg_series *se = &series[s];
        hb_printf(b, "<g class=\"series s%d\" data-series=\"", se->style % 6);
        hb_attr(b, se->name);
        hb_puts(b, "\" data-values=\"");
        for (int i = 0; i < se->count; i++) {
            if (i) hb_puts(b, " ");
            hb_num(b, se->y[i]);
        }
        hb_printf(b, "\"><polyline fill=\"none\"%s points=\"", se->dashed ? " stroke-dasharray=\"6 4\"" : "");
        for (int i = 0; i < se->count; i++)
            if (isfinite(se->y[i])) hb_printf(b, "%.1f,%.1f ", PX(i + 1.0), PY(se->y[i]));
        hb_puts(b, "\"/>");
        for (int i = 0; i < se->count; i++)
            if (isfinite(se->y[i])) {
                hb_printf(b, "<circle r=\"2.6\" cx=\"%.1f\" cy=\"%.1f\"><title>", PX(i + 1.0), PY(se->y[i]));
                hb_text(b, se->name);
                hb_printf(b, ", epoch %d: %.4f</title></circle>", i + 1, se->y[i]);
            }
        hb_puts(b, "</g>");
        /* legend: below the x-axis label, outside the plot area */
        double lx = legend_place(se->name ? se->name : "", L, W - R, &leg_x, &leg_rows);
        double ly = H0 + 6 + LEG_ROW * leg_rows;
        hb_printf(b, "<g class=\"legend s%d\"><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"%s/>"
                  "<text x=\"%.1f\" y=\"%.1f\">", se->style % 6, lx, lx + 20, ly, ly,
                  se->dashed ? " stroke-dasharray=\"6 4\"" : "", lx + 26, ly + 4);
        hb_text(b, se->name);
        hb_puts(b, "</text></g>");
    }
    hb_puts(b, "</svg>");
#undef PX
#undef PY
}

/* White -> deep blue ramp for v in [0, 1]. */
static void ramp(double v, int *r, int *g, int *bl) {
    if (!(v >= 0)) v = 0;
    if (v > 1) v = 1;
    v = sqrt(v);   /* small off-diagonal counts stay visible */
    *r = (int)lround(247 + (22 - 247) * v);
    *g = (int)lround(250 + (73 - 250) * v);
    *bl = (int)lround(253 + (150 - 253) * v);
}

void svg_confusion(struct hbuf *b, const char *id, const char *const *labels, int n,
                   const int64_t *counts) {
    const double cell = n <= 12 ? 34 : 26, L = 150, T = 130;
    double W = L + cell * n + 20, H = T + cell * n + 40;
    hb_printf(b, "<svg class=\"chart heat\" id=\"");
    hb_attr(b, id);
    hb_printf(b, "\" viewBox=\"0 0 %.0f %.0f\" style=\"max-width:%.0fpx\" role=\"img\" "
              "aria-label=\"confusion matrix\">", W, H, W * 1.15);
    hb_printf(b, "<text class=\"label\" x=\"%.1f\" y=\"14\" text-anchor=\"middle\">predicted class</text>",
              L + cell * n / 2);
    hb_printf(b, "<text class=\"label\" transform=\"translate(12 %.1f) rotate(-90)\" "
              "text-anchor=\"middle\">true class</text>", T + cell * n / 2);
    for (int j = 0; j < n; j++) {
        hb_printf(b, "<text class=\"tick\" transform=\"translate(%.1f %.1f) rotate(-55)\">",
                  L + cell * j + cell / 2 + 3, T - 6);
        hb_text(b, labels[j]);
        hb_puts(b, "</text>");
    }
    for (int i = 0; i < n; i++) {
        int64_t row = 0;
        for (int j = 0; j < n; j++) row += counts[(size_t)i * n + j];
        hb_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", L - 6,
                  T + cell * i + cell / 2 + 4);
        hb_text(b, labels[i]);
        hb_puts(b, "</text>");
        for (int j = 0; j < n; j++) {
            int64_t v = counts[(size_t)i * n + j];
            double frac = row ? (double)v / (double)row : 0;
            int r, g, bl;
            ramp(frac, &r, &g, &bl);
            hb_printf(b, "<g class=\"cell\" data-row=\"%d\" data-col=\"%d\" data-count=\"%lld\">"
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "fill=\"rgb(%d,%d,%d)\"><title>", i, j, (long long)v, L + cell * j, T + cell * i,
                      cell - 1, cell - 1, r, g, bl);
            hb_text(b, labels[i]);
            hb_puts(b, " \xE2\x86\x92 ");
            hb_text(b, labels[j]);
            hb_printf(b, ": %lld (%.1f%% of the row)</title></rect>", (long long)v, 100 * frac);
            if (v)
                hb_printf(b, "<text class=\"cnt%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%lld</text>",
                          frac > 0.45 ? " inv" : "", L + cell * j + cell / 2 - 0.5,
                          T + cell * i + cell / 2 + 3.5, (long long)v);
            hb_puts(b, "</g>");
        }
    }
    /* colour scale legend */
    double ly = T + cell * n + 14;
    for (int k = 0; k <= 10; k++) {
        int r, g, bl;
        ramp(k / 10.0, &r, &g, &bl);
        hb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"rgb(%d,%d,%d)\"/>",
                  L + 14 * k, ly, r, g, bl);
    }
    hb_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">0%%</text><text class=\"tick\" x=\"%.1f\" "
              "y=\"%.1f\">100%% of the true class</text>", L - 22, ly + 9, L + 160, ly + 9);
    hb_puts(b, "</svg>");
}

void svg_reliability(struct hbuf *b, const char *id, int bins, const double *acc_before,
                     const double *acc_after, const int64_t *count_before,
                     const int64_t *count_after, double ece_before, double ece_after,
                     double temperature) {
    const double W = 520, H = 340, L = 58, R = 16, T = 34, B = 50;
    double pw = W - L - R, ph = H - T - B, bw = pw / bins;
#define PX(x) (L + (x) * pw)
#define PY(y) (T + ph - (y) * ph)
    hb_printf(b, "<svg class=\"chart\" id=\"");
    hb_attr(b, id);
    hb_printf(b, "\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"reliability diagram\">", W, H);
    hb_printf(b, "<text class=\"title\" x=\"%.0f\" y=\"20\">Reliability: ECE %.4f before, %.4f after "
              "(T = %.3f)</text>", L, ece_before, ece_after, temperature);
    for (int k = 0; k <= 5; k++) {
        double v = k / 5.0;
        hb_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                  "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>"
                  "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f</text>",
                  L, W - R, PY(v), PY(v), L - 6, PY(v) + 4, v, PX(v), T + ph + 16, v);
    }
    hb_printf(b, "<line class=\"diag\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", PX(0), PY(0),
              PX(1), PY(1));
    for (int pass = 0; pass < 2; pass++) {
        const double *acc = pass ? acc_after : acc_before;
        const int64_t *cnt = pass ? count_after : count_before;
        hb_printf(b, "<g class=\"series s%d\" data-series=\"%s\">", pass ? 1 : 0,
                  pass ? "after" : "before");
        for (int k = 0; k < bins; k++) {
            if (!cnt[k]) continue;
            double x = PX(k / (double)bins) + (pass ? bw / 2 : 1);
            hb_printf(b, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "data-bin=\"%d\" data-count=\"%lld\" data-acc=\"", x, PY(acc[k]), bw / 2 - 1,
                      acc[k] * ph, k, (long long)cnt[k]);
            hb_num(b, acc[k]);
            hb_printf(b, "\"><title>%s, confidence %.2f-%.2f: accuracy %.3f over %lld products</title>"
                      "</rect>", pass ? "after" : "before", k / (double)bins, (k + 1) / (double)bins,
                      acc[k], (long long)cnt[k]);
        }
        hb_puts(b, "</g>");
    }
    hb_printf(b, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
              "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>",
              L, W - R, T + ph, T + ph, L, L, T, T + ph);
    hb_printf(b, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">confidence "
              "(top-1 probability)</text><text class=\"label\" transform=\"translate(14 %.1f) "
              "rotate(-90)\" text-anchor=\"middle\">accuracy</text>", L + pw / 2, H - 14, T + ph / 2);
    double lx = L + 12, ly = T + 8;
    hb_printf(b, "<g class=\"legend s0\"><rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"14\" "
              "height=\"10\"/><text x=\"%.1f\" y=\"%.1f\">before (T = 1)</text></g>"
              "<g class=\"legend s1\"><rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"14\" "
              "height=\"10\"/><text x=\"%.1f\" y=\"%.1f\">after (T = %.3f)</text></g>"
              "<g class=\"legend\"><line class=\"diag\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
              "y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\">perfect calibration</text></g>",
              lx, ly, lx + 20, ly + 9, lx, ly + 16, lx + 20, ly + 25, temperature, lx, lx + 14,
              ly + 37, ly + 37, lx + 20, ly + 41);
    hb_puts(b, "</svg>");
#undef PX
#undef PY
}

void svg_bars(struct hbuf *b, const char *id, const char *title, const char *const *labels,
              const double *values, int n, const char *value_label) {
    const double W = 520, L = 170, R = 60, T = 30, row = 20;
    double H = T + row * n + 30, pw = W - L - R, mx = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(values[i]) && fabs(values[i]) > mx) mx = fabs(values[i]);
    if (mx <= 0) mx = 1;
    hb_printf(b, "<svg class=\"chart\" id=\"");
    hb_attr(b, id);
    hb_printf(b, "\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", W, H);
    hb_attr(b, title);
    hb_printf(b, "\"><text class=\"title\" x=\"%.0f\" y=\"18\">", L);
    hb_text(b, title);
    hb_puts(b, "</text>");
    for (int i = 0; i < n; i++) {
        double v = isfinite(values[i]) ? values[i] : 0, w = fabs(v) / mx * pw;
        hb_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", L - 6, T + row * i + 14);
        hb_text(b, labels[i]);
        hb_printf(b, "</text><rect class=\"bar s0\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                  "data-value=\"", L, T + row * i + 3, w, row - 6);
        hb_num(b, values[i]);
        hb_printf(b, "\"/><text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%.4g</text>", L + w + 4,
                  T + row * i + 14, values[i]);
    }
    hb_printf(b, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", L + pw / 2, H - 8);
    hb_text(b, value_label);
    hb_puts(b, "</text></svg>");
}
