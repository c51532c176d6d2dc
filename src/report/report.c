/* report.c - the HTML report: page frame, summary and the training sections
 * (learning curves, confusion matrix, per-class table, calibration). The
 * similarity, review and nightly sections are in report_gallery.c. */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "report/report_priv.h"
#include "train/head.h"
#include "util/check.h"
#include "util/fsutil.h"
#include "util/log.h"

#define CONFUSION_TOP 15     /* classes shown in the heat map; the rest are aggregated */
#define RELIABILITY_BINS 15  /* as train's ECE (docs/training.md) */

static const char *STYLE =
    ":root{--ink:#1f2933;--muted:#61707f;--line:#d9e0e7;--bg:#f6f8fa;--card:#fff;"
    "--c0:#2563a6;--c1:#d9661f;--c2:#2f9e6e;--c3:#8a4fbf;--c4:#c23b5a;--c5:#6b7785}"
    "*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);"
    "font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}"
    "header{background:#17324d;color:#fff;padding:22px 32px}header h1{margin:0;font-size:24px;"
    "font-weight:600}header p{margin:4px 0 0;color:#c8d6e5;font-size:14px}"
    "nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);"
    "padding:8px 32px;display:flex;flex-wrap:wrap;gap:4px 18px;font-size:14px}"
    "nav a{color:var(--c0);text-decoration:none}nav a:hover{text-decoration:underline}"
    "main{max-width:1180px;margin:0 auto;padding:8px 24px 40px}"
    "section{background:var(--card);border:1px solid var(--line);border-radius:10px;"
    "padding:18px 24px;margin:20px 0;box-shadow:0 1px 2px rgba(16,24,40,.04)}"
    "h2{font-size:19px;margin:0 0 4px;font-weight:600}h3{font-size:15px;margin:18px 0 6px;"
    "font-weight:600}p.note{color:var(--muted);margin:2px 0 12px;font-size:13.5px}"
    "p.na{color:var(--muted);font-style:italic;background:var(--bg);padding:10px 14px;"
    "border-radius:6px}code{font:12.5px ui-monospace,'DejaVu Sans Mono',monospace;"
    "background:#eef2f6;padding:1px 5px;border-radius:4px}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}.card{flex:1 1 150px;"
    "border:1px solid var(--line);border-radius:8px;padding:10px 14px}.card .v{font-size:24px;"
    "font-weight:600;color:var(--c0)}.card .k{font-size:12.5px;color:var(--muted)}"
    "table{border-collapse:collapse;width:100%;font-size:13.5px;margin:6px 0}"
    "th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}"
    "th{background:#f0f3f7;font-weight:600;white-space:nowrap}td.n,th.n{text-align:right;"
    "font-variant-numeric:tabular-nums}table.sortable th{cursor:pointer;user-select:none}"
    "table.sortable th:after{content:' \\2195';color:#aab4bf;font-size:11px}"
    "tr.sel td{background:#eef5ff}dl.kv{display:grid;grid-template-columns:max-content 1fr;"
    "gap:3px 16px;margin:8px 0;font-size:13.5px}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;"
    "word-break:break-all}.charts{display:flex;flex-wrap:wrap;gap:16px}.charts svg{flex:1 1 420px;"
    "max-width:560px}svg.chart{width:100%;height:auto;font-family:inherit}"
    "svg .title{font-size:14px;font-weight:600;fill:var(--ink)}svg .tick{font-size:11px;"
    "fill:var(--muted)}svg .label{font-size:12px;fill:var(--ink)}svg .grid{stroke:#e8edf2}"
    "svg .axis{stroke:#8795a1}svg .diag{stroke:#8795a1;stroke-dasharray:4 4}"
    "svg .series polyline{stroke-width:2.2}svg .legend text{font-size:12px;fill:var(--ink)}"
    "svg .legend line{stroke-width:2.2}svg .cnt{font-size:10px;fill:var(--ink)}"
    "svg .cnt.inv{fill:#fff}"
    ".s0 polyline,.s0 line,.legend.s0 line{stroke:var(--c0)}.s0 circle,.s0 .bar,.bar.s0{fill:var(--c0)}"
    ".s1 polyline,.s1 line{stroke:var(--c1)}.s1 circle,.s1 .bar{fill:var(--c1)}"
    ".s2 polyline,.s2 line{stroke:var(--c2)}.s2 circle,.s2 .bar{fill:var(--c2)}"
    ".s3 polyline,.s3 line{stroke:var(--c3)}.s3 circle,.s3 .bar{fill:var(--c3)}"
    ".bar{opacity:.85}"
    ".gal{display:flex;flex-direction:column;gap:10px}.grow{display:flex;gap:10px;align-items:flex-start;"
    "border-bottom:1px solid var(--line);padding-bottom:10px;overflow-x:auto}"
    ".item{width:104px;flex:0 0 104px;font-size:11.5px;line-height:1.3}.item.q{flex-basis:150px;"
    "width:150px;border-right:2px solid var(--line);padding-right:10px;font-size:12.5px}"
    ".item .nm{display:block;margin-top:3px;overflow:hidden;max-height:3.9em;word-break:break-word}"
    ".item .sc{display:block;color:var(--muted);font-variant-numeric:tabular-nums}"
    "img.thumb{width:64px;height:64px;object-fit:contain;background:#fff;border:1px solid var(--line);"
    "border-radius:4px;image-rendering:auto;display:block}.item.q img.thumb{width:96px;height:96px}"
    "span.nothumb{display:block;width:64px;height:64px;background:#e5e9ee;border-radius:4px}"
    ".groups{display:flex;flex-wrap:wrap;gap:10px}.group{border:1px solid var(--line);border-radius:8px;padding:8px 10px}"
    ".group .members{display:flex;flex-wrap:wrap;gap:10px;margin-top:6px}"
    ".tag{display:inline-block;font-size:11.5px;padding:1px 7px;border-radius:9px;background:#eef2f6;"
    "color:var(--muted)}.tag.bad{background:#fde8e8;color:#a4262c}.tag.ok{background:#e3f4ea;color:#1d6b43}"
    "details pre{max-height:360px;overflow:auto;background:var(--bg);padding:10px;font-size:12px}"
    "footer{color:var(--muted);font-size:12.5px;text-align:center;padding:12px}";

/* Sorts a table by the clicked column (numbers by data-value when present). */
static const char *SCRIPT =
    "document.querySelectorAll('table.sortable').forEach(function(t){"
    "t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){"
    "var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),asc=th.dataset.dir!=='asc';"
    "t.querySelectorAll('th').forEach(function(h){delete h.dataset.dir;});th.dataset.dir=asc?'asc':'desc';"
    "rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];"
    "var u=a.dataset.value!==undefined?parseFloat(a.dataset.value):NaN,"
    "v=c.dataset.value!==undefined?parseFloat(c.dataset.value):NaN;"
    "var r=(!isNaN(u)&&!isNaN(v))?u-v:a.textContent.localeCompare(c.textContent);"
    "return asc?r:-r;});rows.forEach(function(r){b.appendChild(r);});});});});";

/* ---- shared helpers ------------------------------------------------------ */

void report_product_name(const struct report_ctx *x, int64_t row, char *out, size_t out_size) {
    const char *src = "?";
    size_t width = 0;
    if (row >= 0 && row < x->n && x->names) src = x->names + (size_t)row * CATALOG_NAME_BYTES, width = CATALOG_NAME_BYTES;
    else if (row >= 0 && row < x->n && x->ids) src = x->ids + (size_t)row * CATALOG_ID_BYTES, width = CATALOG_ID_BYTES;
    size_t len = width ? strnlen(src, width) : strlen(src);
    if (len >= out_size) len = out_size - 1;
    memcpy(out, src, len);
    out[len] = '\0';
}

int report_thumb(struct report_ctx *x, int64_t row) {
    int rc = ST_OK;
    uint8_t *pix = NULL;
    char name[CATALOG_NAME_BYTES + 1];
    report_product_name(x, row, name, sizeof name);
    if (!x->image_side || row < 0 || row >= x->n) {
        hb_puts(x->b, "<span class=\"nothumb\" title=\"no image\"></span>");
        return ST_OK;
    }
    if (!x->thumbs[row]) {
        size_t px = (size_t)x->image_side * x->image_side * 3;
        struct hbuf t = {0};
        TRY_ALLOC(pix = malloc(px));
        TRY(catalog_read_rows(x->c, "/images/pixels", H5T_NATIVE_UINT8, row, 1, pix));
        TRY(hb_png_data_uri(&t, pix, x->image_side, x->o->thumb_px));
        REQUIRE(!t.oom, ST_ERR, "out of memory for a thumbnail");
        x->thumbs[row] = t.s;
    }
    hb_puts(x->b, "<img class=\"thumb\" src=\"");
    hb_puts(x->b, x->thumbs[row]);
    hb_puts(x->b, "\" alt=\"");
    hb_attr(x->b, name);
    hb_puts(x->b, "\">");
fail:
    free(pix);
    return rc;
}

const char *report_class_name(const struct report_ctx *x, int level, int64_t k) {
    if (level < 0 || level >= x->n_levels || k < 0 || k >= x->n_classes[level]) return "?";
    return x->classes[level][k];
}

void report_missing(struct report_ctx *x, const char *what, const char *how) {
    hb_puts(x->b, "<p class=\"na\">");
    hb_text(x->b, what);
    hb_puts(x->b, ": not available in this catalog");
    if (how && *how) {
        hb_puts(x->b, " (");
        hb_text(x->b, how);
        hb_puts(x->b, ")");
    }
    hb_puts(x->b, ".</p>");
}

/* Reads a 1-D fixed-string dataset into malloc'ed strings. */
static int read_strings(struct catalog *c, const char *name, size_t width, char ***out, int64_t *count) {
    int rc = ST_OK;
    char *raw = NULL;
    hid_t t = -1;
    *out = NULL;
    *count = 0;
    TRY_H5(t = catalog_str_type(width));
    TRY(catalog_read_all(c, name, t, (void **)&raw, count));
    TRY_ALLOC(*out = calloc((size_t)*count + 1, sizeof **out));
    for (int64_t i = 0; i < *count; i++) TRY_ALLOC((*out)[i] = strndup(raw + (size_t)i * width, width));
fail:
    if (t >= 0) H5Tclose(t);
    free(raw);
    return rc;
}

static void free_strings(char **s, int64_t n) {
    if (!s) return;
    for (int64_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

static int level_index(const struct report_ctx *x, const char *level) {
    for (int l = 0; l < x->n_levels; l++)
        if (!strcmp(x->levels[l], level)) return l;
    return -1;
}

/* A metric card: the value is also in data-key/data-value for checking. */
static void card(struct hbuf *b, const char *label, const char *key, double v, const char *fmt) {
    hb_puts(b, "<div class=\"card\"><div class=\"v\" data-key=\"");
    hb_attr(b, key);
    hb_puts(b, "\" data-value=\"");
    hb_num(b, v);
    hb_puts(b, "\">");
    if (isfinite(v)) hb_printf(b, fmt, v);
    else hb_puts(b, "&#8211;");
    hb_puts(b, "</div><div class=\"k\">");
    hb_text(b, label);
    hb_puts(b, "</div></div>");
}

/* ---- summary ------------------------------------------------------------- */

static void runs_table(struct report_ctx *x, const struct run_info *sel) {
    struct hbuf *b = x->b;
    char km[512];
    hb_puts(b, "<h3>All runs in this catalog</h3><table class=\"sortable\" id=\"runs-table\"><thead><tr>"
               "<th>run</th><th>started</th><th>command</th><th>experiment</th><th>config hash</th>"
               "<th class=\"n\">wall s</th><th>key metrics</th></tr></thead><tbody>");
    for (int i = 0; i < x->n_runs; i++) {
        const struct run_info *r = &x->runs[i];
        runs_key_metrics(r, km, sizeof km);
        hb_printf(b, "<tr%s><td><code>", r == sel ? " class=\"sel\"" : "");
        hb_text(b, r->id);
        hb_puts(b, "</code>");
        if (!r->complete) hb_puts(b, " <span class=\"tag bad\">incomplete</span>");
        hb_puts(b, "</td><td>");
        hb_text(b, r->started);
        hb_puts(b, "</td><td>");
        hb_text(b, r->command);
        hb_puts(b, "</td><td>");
        hb_text(b, r->experiment);
        hb_puts(b, "</td><td><code>");
        hb_text(b, r->config_hash);
        hb_puts(b, "</code></td><td class=\"n\" data-value=\"");
        hb_num(b, r->wall_seconds);
        hb_printf(b, "\">%.2f</td><td>", r->wall_seconds);
        hb_text(b, km);
        hb_puts(b, "</td></tr>");
    }
    hb_puts(b, "</tbody></table>");
}

static void section_summary(struct report_ctx *x, const struct run_info *r) {
    struct hbuf *b = x->b;
    int64_t active = 0;
    for (int64_t i = 0; i < x->n; i++) active += !x->status || x->status[i] == PRODUCT_ACTIVE;
    hb_puts(b, "<section id=\"summary\"><h2>Run summary</h2>");
    hb_puts(b, "<div class=\"cards\">");
    card(b, "products", "catalog.products", (double)x->n, "%.0f");
    card(b, "active products", "catalog.active", (double)active, "%.0f");
    for (int l = 0; l < x->n_levels; l++) {
        char lab[300], key[300];
        snprintf(lab, sizeof lab, "classes: %s", x->levels[l]);
        snprintf(key, sizeof key, "catalog.classes.%s", x->levels[l]);
        card(b, lab, key, (double)x->n_classes[l], "%.0f");
    }
    card(b, "runs recorded", "catalog.runs", (double)x->n_runs, "%.0f");
    hb_puts(b, "</div>");
    if (!r) {
        report_missing(x, "Run records", "every assort command that produces results records one");
        hb_puts(b, "</section>");
        return;
    }
    hb_puts(b, "<h3>Selected run</h3><dl class=\"kv\" id=\"run-details\">");
    const char *k[] = {"run id", "command", "experiment", "started", "finished", "config hash",
                       "assort", "git commit", "host", "libraries"};
    const char *v[] = {r->id, r->command, r->experiment, r->started, r->finished, r->config_hash,
                       r->assort_version, r->git_commit, r->host, r->library_versions};
    for (int i = 0; i < 10; i++) {
        hb_puts(b, "<dt>");
        hb_text(b, k[i]);
        hb_puts(b, "</dt><dd>");
        hb_text(b, *v[i] ? v[i] : "-");
        hb_puts(b, "</dd>");
    }
    hb_printf(b, "<dt>ranks</dt><dd>%lld</dd><dt>seed</dt><dd>%lld</dd><dt>wall time</dt><dd>%.2f s</dd>",
              (long long)r->ranks, (long long)r->seed, r->wall_seconds);
    for (int i = 0; i < r->n_timings; i++) {
        hb_puts(b, "<dt>time: ");
        hb_text(b, r->timing_names[i]);
        hb_printf(b, "</dt><dd>%.3f s</dd>", r->timing_seconds[i]);
    }
    hb_puts(b, "</dl>");
    if (!r->complete) hb_puts(b, "<p class=\"na\">This run did not finish (no complete = 1).</p>");
    if (!r->metrics) {
        hb_puts(b, "<p class=\"na\">The metrics of this run could not be read: ");
        hb_text(b, r->metrics_error ? r->metrics_error : "?");
        hb_puts(b, "</p>");
    } else if (!strcmp(r->command, "train")) {
        const struct json *lv = json_get(r->metrics, "levels");
        for (size_t i = 0; lv && i < lv->count; i++) {
            char key[400], lab[400];
            const struct json *L = &lv->items[i];
            hb_puts(b, "<h3>Level <code>");
            hb_text(b, lv->keys[i]);
            hb_puts(b, "</code> (head <code>");
            hb_text(b, json_get(L, "head") && json_get(L, "head")->type == JSON_STRING
                           ? json_get(L, "head")->string : "?");
            hb_puts(b, "</code>)</h3><div class=\"cards\">");
            struct { const char *path, *label, *fmt; } m[] = {
                {"test.top1", "test top-1", "%.4f"},       {"test.top5", "test top-5", "%.4f"},
                {"test.macro_f1", "test macro-F1", "%.4f"}, {"test.log_loss", "test log-loss", "%.4f"},
                {"test.ece", "test ECE (T = 1)", "%.4f"},  {"test_calibrated.ece", "test ECE (calibrated)", "%.4f"},
                {"temperature", "temperature T", "%.3f"},  {"test.n", "test products", "%.0f"},
                {"epochs_done", "epochs", "%.0f"},         {"best_epoch", "best epoch", "%.0f"}};
            for (size_t j = 0; j < sizeof m / sizeof m[0]; j++) {
                snprintf(key, sizeof key, "levels.%s.%s", lv->keys[i], m[j].path);
                snprintf(lab, sizeof lab, "%s", m[j].label);
                card(b, lab, key, json_number_or(json_path(L, m[j].path), NAN), m[j].fmt);
            }
            hb_puts(b, "</div>");
        }
    } else {
        /* other commands: their top-level numbers */
        hb_puts(b, "<div class=\"cards\">");
        for (size_t i = 0; r->metrics->type == JSON_OBJECT && i < r->metrics->count; i++)
            if (r->metrics->items[i].type == JSON_NUMBER)
                card(b, r->metrics->keys[i], r->metrics->keys[i], r->metrics->items[i].number, "%.6g");
        hb_puts(b, "</div>");
    }
    hb_puts(b, "<details><summary>Resolved configuration (YAML)</summary><pre>");
    hb_text(b, r->config_yaml);
    hb_puts(b, "</pre></details>");
    runs_table(x, r);
    hb_puts(b, "</section>");
}

/* ---- training sections --------------------------------------------------- */

static int section_curves(struct report_ctx *x, const struct run_info *r) {
    int rc = ST_OK;
    double *cv = NULL, *col = NULL;
    struct hbuf *b = x->b;
    hb_puts(b, "<section id=\"curves\"><h2>Learning curves</h2><p class=\"note\">Loss and top-1 "
               "accuracy per epoch on the training rows (as seen during the epoch, with dropout) and "
               "on the validation split (after the epoch). Early stopping keeps the epoch with the best "
               "validation macro-F1.</p>");
    const struct json *lv = r ? json_get(r->metrics, "levels") : NULL;
    if (!lv || !lv->count) {
        report_missing(x, "Learning curves", "run `assort train`");
        goto done;
    }
    for (size_t i = 0; i < lv->count; i++) {
        char name[600];
        int nd = 0;
        hsize_t dims[8];
        snprintf(name, sizeof name, "/runs/%s/curves_%s", r->id, lv->keys[i]);
        if (!catalog_exists(x->c, name)) {
            report_missing(x, name, NULL);
            continue;
        }
        TRY(catalog_dims(x->c, name, &nd, dims));
        REQUIRE(nd == 2 && dims[1] == 4, ST_DATA, "%s: expected (epochs, 4), found %d dimensions", name, nd);
        free(cv);
        cv = NULL;
        TRY(catalog_read_all(x->c, name, H5T_NATIVE_DOUBLE, (void **)&cv, NULL));
        int e = (int)dims[0];
        free(col);
        TRY_ALLOC(col = malloc(sizeof(double) * 4 * (size_t)(e + 1)));
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < e; j++) col[k * e + j] = cv[j * 4 + k];
        struct svg_series loss[2] = {{"train loss", col, e, 0, 0}, {"validation loss", col + 2 * e, e, 1, 1}};
        struct svg_series acc[2] = {{"train accuracy", col + e, e, 0, 0},
                                    {"validation accuracy", col + 3 * e, e, 1, 1}};
        char id[300], title[300];
        hb_puts(b, "<h3>Level <code>");
        hb_text(b, lv->keys[i]);
        hb_puts(b, "</code></h3><div class=\"charts\" data-level=\"");
        hb_attr(b, lv->keys[i]);
        hb_puts(b, "\">");
        snprintf(id, sizeof id, "curve-loss-%s", lv->keys[i]);
        snprintf(title, sizeof title, "Loss (%s)", lv->keys[i]);
        svg_line_chart(b, id, title, "epoch", "cross-entropy", loss, 2, 0, 0, 1);
        snprintf(id, sizeof id, "curve-acc-%s", lv->keys[i]);
        snprintf(title, sizeof title, "Top-1 accuracy (%s)", lv->keys[i]);
        svg_line_chart(b, id, title, "epoch", "accuracy", acc, 2, 0, 1, 0);
        hb_puts(b, "</div>");
    }
done:
    hb_puts(b, "</section>");
fail:
    free(cv);
    free(col);
    return rc;
}

/* Class names of a train level in head order (from the per-class metrics). */
static int head_classes(const struct json *L, char ***names, int *count) {
    const struct json *pc = json_path(L, "test.per_class");
    if (!pc) pc = json_path(L, "val.per_class");
    *names = NULL;
    *count = 0;
    if (!pc || pc->type != JSON_OBJECT) return ST_OK;
    *names = pc->keys;
    *count = (int)pc->count;
    return ST_OK;
}

static int section_confusion(struct report_ctx *x, const struct run_info *r) {
    int rc = ST_OK;
    int64_t *cm = NULL, *agg = NULL, *support = NULL;
    int *order = NULL, *shown = NULL;
    const char **labels = NULL;
    char *other = NULL;
    struct hbuf *b = x->b;
    hb_puts(b, "<section id=\"confusion\"><h2>Confusion matrix</h2><p class=\"note\">Test split, rows = "
               "true class, columns = predicted class (from <code>/runs/&lt;run&gt;/confusion_&lt;level&gt;"
               "</code>). Colour = share of the true class's products; the number is the count. The "
               "most frequent classes are shown; the rest are summed into one row and column.</p>");
    const struct json *lv = r ? json_get(r->metrics, "levels") : NULL;
    if (!lv || !lv->count) {
        report_missing(x, "Confusion matrix", "run `assort train`");
        goto done;
    }
    for (size_t i = 0; i < lv->count; i++) {
        char name[600], **cls = NULL;
        int ncls = 0, nd = 0;
        hsize_t dims[8];
        snprintf(name, sizeof name, "/runs/%s/confusion_%s", r->id, lv->keys[i]);
        if (!catalog_exists(x->c, name)) {
            report_missing(x, name, NULL);
            continue;
        }
        TRY(catalog_dims(x->c, name, &nd, dims));
        REQUIRE(nd == 2 && dims[0] == dims[1], ST_DATA, "%s: expected a square matrix", name);
        int n = (int)dims[0];
        free(cm), free(agg), free(support), free(order), free(shown), free(labels), free(other);
        cm = agg = support = NULL, order = shown = NULL, labels = NULL, other = NULL;
        TRY(catalog_read_all(x->c, name, H5T_NATIVE_INT64, (void **)&cm, NULL));
        head_classes(&lv->items[i], &cls, &ncls);
        TRY_ALLOC(support = calloc((size_t)n + 1, sizeof *support));
        TRY_ALLOC(order = malloc(((size_t)n + 1) * sizeof *order));
        for (int a = 0; a < n; a++) {
            order[a] = a;
            for (int c = 0; c < n; c++) support[a] += cm[(size_t)a * n + c];
        }
        /* classes by support desc, index asc (stable, deterministic) */
        for (int a = 1; a < n; a++) {
            int v = order[a], j = a;
            while (j > 0 && (support[order[j - 1]] < support[v] ||
                             (support[order[j - 1]] == support[v] && order[j - 1] > v)))
                order[j] = order[j - 1], j--;
            order[j] = v;
        }
        int k = n <= CONFUSION_TOP + 1 ? n : CONFUSION_TOP;
        int m = k + (k < n);
        TRY_ALLOC(shown = malloc((size_t)m * sizeof *shown));
        TRY_ALLOC(labels = calloc((size_t)m, sizeof *labels));
        TRY_ALLOC(agg = calloc((size_t)m * m, sizeof *agg));
        int *pos = malloc(((size_t)n + 1) * sizeof *pos);
        TRY_ALLOC(pos);
        for (int a = 0; a < n; a++) pos[a] = k;   /* aggregated */
        for (int a = 0; a < k; a++) {
            pos[order[a]] = a;
            shown[a] = order[a];
            labels[a] = order[a] < ncls ? cls[order[a]] : "?";
        }
        if (m > k) {
            shown[k] = -1;
            TRY_ALLOC(other = malloc(64));
            snprintf(other, 64, "other (%d classes)", n - k);
            labels[k] = other;
        }
        for (int a = 0; a < n; a++)
            for (int c = 0; c < n; c++) agg[(size_t)pos[a] * m + pos[c]] += cm[(size_t)a * n + c];
        free(pos);
        char id[300];
        snprintf(id, sizeof id, "confusion-%s", lv->keys[i]);
        hb_puts(b, "<h3>Level <code>");
        hb_text(b, lv->keys[i]);
        hb_printf(b, "</code> (%d classes)</h3><div class=\"heatwrap\" data-level=\"", n);
        hb_attr(b, lv->keys[i]);
        hb_puts(b, "\" data-classes=\"");
        for (int a = 0; a < m; a++) hb_printf(b, "%s%d", a ? " " : "", shown[a]);
        hb_puts(b, "\">");
        svg_confusion(b, id, labels, m, agg);
        hb_puts(b, "</div>");
    }
done:
    hb_puts(b, "</section>");
fail:
    free(cm), free(agg), free(support), free(order), free(shown), free(labels), free(other);
    return rc;
}

static void section_per_class(struct report_ctx *x, const struct run_info *r) {
    struct hbuf *b = x->b;
    hb_puts(b, "<section id=\"per-class\"><h2>Per-class precision, recall, F1</h2><p class=\"note\">"
               "Test split. Precision is 0 for a class that is never predicted; support = test products "
               "of the class. Click a column header to sort.</p>");
    const struct json *lv = r ? json_get(r->metrics, "levels") : NULL;
    if (!lv || !lv->count) {
        report_missing(x, "Per-class metrics", "run `assort train`");
        hb_puts(b, "</section>");
        return;
    }
    for (size_t i = 0; i < lv->count; i++) {
        const struct json *pc = json_path(&lv->items[i], "test.per_class");
        hb_puts(b, "<h3>Level <code>");
        hb_text(b, lv->keys[i]);
        hb_puts(b, "</code></h3>");
        if (!pc || pc->type != JSON_OBJECT) {
            report_missing(x, "Test metrics of this level", "the test split is empty");
            continue;
        }
        hb_puts(b, "<table class=\"sortable per-class\" data-level=\"");
        hb_attr(b, lv->keys[i]);
        hb_puts(b, "\"><thead><tr><th>class</th><th class=\"n\">precision</th><th class=\"n\">recall</th>"
                   "<th class=\"n\">F1</th><th class=\"n\">support</th></tr></thead><tbody>");
        for (size_t k = 0; k < pc->count; k++) {
            const struct json *c = &pc->items[k];
            hb_puts(b, "<tr data-class=\"");
            hb_attr(b, pc->keys[k]);
            hb_puts(b, "\"><td>");
            hb_text(b, pc->keys[k]);
            hb_puts(b, "</td>");
            const char *f[4] = {"precision", "recall", "f1", "support"};
            for (int j = 0; j < 4; j++) {
                double v = json_number_or(json_get(c, f[j]), NAN);
                hb_printf(b, "<td class=\"n\" data-metric=\"%s\" data-value=\"", f[j]);
                hb_num(b, v);
                hb_printf(b, j == 3 ? "\">%.0f</td>" : "\">%.3f</td>", v);
            }
            hb_puts(b, "</tr>");
        }
        hb_puts(b, "</tbody></table>");
    }
    hb_puts(b, "</section>");
}

/* Reliability of one level: recomputes the test logits from the stored head
 * (which must still be this run's) and bins confidences before/after T. */
static int reliability_level(struct report_ctx *x, const struct run_info *r, const char *level,
                             const struct json *L) {
    int rc = ST_OK;
    struct hbuf *b = x->b;
    char grp[400], name[500], *run_of_head = NULL, *kind = NULL, *backbone = NULL, *split_name = NULL;
    float *params = NULL, *w = NULL, *feats = NULL;
    int32_t *cmap = NULL;
    int8_t *split = NULL;
    uint8_t *fvalid = NULL;
    struct head_work work = {0};
    const struct json *hn = json_get(L, "head"), *sp = json_get(r->metrics, "split");
    int li = level_index(x, level);
    if (!hn || hn->type != JSON_STRING || !sp || sp->type != JSON_STRING || li < 0 || !x->labels) {
        report_missing(x, "Reliability data", "the run names no head or split");
        goto fail;
    }
    snprintf(grp, sizeof grp, "/heads/%s", hn->string);
    if (!catalog_exists(x->c, grp) || catalog_is_complete(x->c, grp) != 1) {
        report_missing(x, grp, "the head was removed");
        goto fail;
    }
    TRY(catalog_get_attr_str(x->c, grp, "run_id", &run_of_head));
    if (strcmp(run_of_head, r->id)) {
        hb_puts(b, "<p class=\"na\">The head <code>");
        hb_text(b, hn->string);
        hb_puts(b, "</code> now holds the weights of run <code>");
        hb_text(b, run_of_head);
        hb_puts(b, "</code>, so this run's reliability diagram cannot be recomputed; its ECE values are "
                   "in the summary.</p>");
        goto fail;
    }
    int64_t in_dim = 0, hidden = 0, classes = 0, rows = 0;
    double temperature = 1;
    TRY(catalog_get_attr_str(x->c, grp, "head", &kind));
    TRY(catalog_get_attr_str(x->c, grp, "backbone", &backbone));
    TRY(catalog_get_attr_i64(x->c, grp, "in_dim", &in_dim));
    TRY(catalog_get_attr_i64(x->c, grp, "hidden", &hidden));
    TRY(catalog_get_attr_i64(x->c, grp, "classes", &classes));
    TRY(catalog_get_attr_f64(x->c, grp, "temperature", &temperature));
    struct head_shape shape = {head_kind_parse(kind) == HEAD_MLP ? HEAD_MLP : HEAD_LINEAR, (int)in_dim,
                               (int)hidden, (int)classes, 0};
    struct head_layout lay;
    head_layout_of(&shape, &lay);
    TRY_ALLOC(params = malloc(lay.count * sizeof(float)));
    const char *part[4] = {"w1", "b1", "w2", "b2"};
    size_t off[5] = {lay.w1, lay.b1, lay.w2, lay.b2, lay.count};
    for (int p = 0; p < (shape.kind == HEAD_MLP ? 4 : 2); p++) {
        snprintf(name, sizeof name, "%s/%s", grp, part[p]);
        free(w);
        w = NULL;
        int64_t got = 0;
        int nd = 0;
        hsize_t dims[8];
        TRY(catalog_dims(x->c, name, &nd, dims));
        size_t cnt = 1;
        for (int d = 0; d < nd; d++) cnt *= dims[d];
        REQUIRE(cnt == off[p + 1] - off[p], ST_DATA, "%s has %zu values, expected %zu", name, cnt,
                off[p + 1] - off[p]);
        TRY(catalog_read_all(x->c, name, H5T_NATIVE_FLOAT, (void **)&w, &got));
        memcpy(params + off[p], w, cnt * sizeof(float));
    }
    snprintf(name, sizeof name, "%s/class_map", grp);
    TRY(catalog_read_all(x->c, name, H5T_NATIVE_INT32, (void **)&cmap, &rows));
    int64_t n_map = rows;
    TRY(catalog_read_all(x->c, sp->string, H5T_NATIVE_INT8, (void **)&split, &rows));
    REQUIRE(rows == x->n, ST_DATA, "%s has %lld rows, the catalog %lld", sp->string, (long long)rows,
            (long long)x->n);
    snprintf(name, sizeof name, "/features/%s/data", backbone);
    TRY(catalog_read_all(x->c, name, H5T_NATIVE_FLOAT, (void **)&feats, &rows));
    snprintf(name, sizeof name, "/features/%s/valid", backbone);
    if (catalog_exists(x->c, name)) TRY(catalog_read_all(x->c, name, H5T_NATIVE_UINT8, (void **)&fvalid, NULL));
    /* bins: [k/B, (k+1)/B), the last closed */
    int64_t cnt[2][RELIABILITY_BINS] = {{0}};
    double sconf[2][RELIABILITY_BINS] = {{0}}, sacc[2][RELIABILITY_BINS] = {{0}};
    double acc[2][RELIABILITY_BINS], ece[2] = {0, 0};
    int64_t total = 0;
    enum { BATCH = 256 };
    TRY(head_work_alloc(&shape, BATCH, &work));
    static const int64_t no_ids[1] = {0};
    (void)no_ids;
    float *xb = malloc((size_t)BATCH * in_dim * sizeof(float));
    int32_t yb[BATCH];
    TRY_ALLOC(xb);
    int64_t i = 0;
    while (i < x->n) {
        int nb = 0;
        for (; i < x->n && nb < BATCH; i++) {
            int32_t lab = x->labels[i * x->n_levels + li];
            if (split[i] != 2 || lab < 0 || lab >= n_map || cmap[lab] < 0) continue;
            if (x->status && x->status[i] != PRODUCT_ACTIVE) continue;
            if (fvalid && !fvalid[i]) continue;
            memcpy(xb + (size_t)nb * in_dim, feats + (size_t)i * in_dim, (size_t)in_dim * sizeof(float));
            yb[nb++] = cmap[lab];
        }
        if (!nb) continue;
        head_forward(&shape, params, xb, nb, 0, NULL, NULL, &work);
        for (int q = 0; q < nb; q++) {
            const float *lg = work.logits + (size_t)q * classes;
            int arg = 0;
            for (int c = 1; c < classes; c++)
                if (lg[c] > lg[arg]) arg = c;
            for (int pass = 0; pass < 2; pass++) {
                double t = pass ? temperature : 1.0, z = 0;
                for (int c = 0; c < classes; c++) z += exp((lg[c] - lg[arg]) / t);
                double conf = 1.0 / z;
                int bin = (int)(conf * RELIABILITY_BINS);
                if (bin >= RELIABILITY_BINS) bin = RELIABILITY_BINS - 1;
                cnt[pass][bin]++;
                sconf[pass][bin] += conf;
                sacc[pass][bin] += arg == yb[q];
            }
            total++;
        }
    }
    free(xb);
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < RELIABILITY_BINS; k++) {
            acc[pass][k] = cnt[pass][k] ? sacc[pass][k] / cnt[pass][k] : NAN;
            if (cnt[pass][k]) ece[pass] += fabs(sacc[pass][k] - sconf[pass][k]) / (double)total;
        }
    if (!total) {
        report_missing(x, "Test products for the reliability diagram", "the test split is empty");
        goto fail;
    }
    char id[300];
    snprintf(id, sizeof id, "reliability-%s", level);
    hb_puts(b, "<div class=\"charts\" data-level=\"");
    hb_attr(b, level);
    hb_printf(b, "\" data-n=\"%lld\" data-ece-before=\"", (long long)total);
    hb_num(b, ece[0]);
    hb_puts(b, "\" data-ece-after=\"");
    hb_num(b, ece[1]);
    hb_puts(b, "\" data-temperature=\"");
    hb_num(b, temperature);
    hb_puts(b, "\">");
    svg_reliability(b, id, RELIABILITY_BINS, acc[0], acc[1], cnt[0], cnt[1], ece[0], ece[1], temperature);
    hb_printf(b, "<p class=\"note\" style=\"flex:1 1 260px\">%lld test products. Recomputed here from the "
                 "stored head: ECE %.4f at T = 1 and %.4f at T = %.3f. The run recorded ECE %.4f and %.4f "
                 "(same 15 equal-width bins).</p>",
              (long long)total, ece[0], ece[1], temperature,
              json_number_or(json_path(L, "test.ece"), NAN),
              json_number_or(json_path(L, "test_calibrated.ece"), NAN));
    hb_puts(b, "</div>");
fail:
    head_work_free(&work);
    free(run_of_head), free(kind), free(backbone), free(split_name);
    free(params), free(w), free(feats), free(cmap), free(split), free(fvalid);
    return rc;
}

static int section_calibration(struct report_ctx *x, const struct run_info *r) {
    int rc = ST_OK;
    struct hbuf *b = x->b;
    hb_puts(b, "<section id=\"calibration\"><h2>Calibration: reliability before and after temperature "
               "scaling</h2><p class=\"note\">Test products binned by confidence (the top softmax "
               "probability) into 15 equal-width bins; each bar is the accuracy of a bin. A calibrated "
               "model's bars follow the diagonal. The temperature T was fitted on the validation split "
               "(minimum log-loss); ECE = sum over bins of |accuracy - mean confidence| weighted by the "
               "bin's share.</p>");
    const struct json *lv = r ? json_get(r->metrics, "levels") : NULL;
    if (!lv || !lv->count) {
        report_missing(x, "Calibration", "run `assort train`");
    } else {
        for (size_t i = 0; i < lv->count; i++) {
            hb_puts(b, "<h3>Level <code>");
            hb_text(b, lv->keys[i]);
            hb_puts(b, "</code></h3>");
            TRY(reliability_level(x, r, lv->keys[i], &lv->items[i]));
        }
    }
    hb_puts(b, "</section>");
fail:
    return rc;
}

/* ---- the page ------------------------------------------------------------ */

static int load_catalog(struct report_ctx *x) {
    int rc = ST_OK;
    hid_t nt = -1, it = -1;
    int64_t rows = 0;
    x->n = catalog_count(x->c);
    if (x->n > 0 && catalog_exists(x->c, "/products/name")) {
        TRY_H5(nt = catalog_str_type(CATALOG_NAME_BYTES));
        TRY(catalog_read_all(x->c, "/products/name", nt, (void **)&x->names, &rows));
    }
    if (x->n > 0 && catalog_exists(x->c, "/products/id")) {
        TRY_H5(it = catalog_str_type(CATALOG_ID_BYTES));
        TRY(catalog_read_all(x->c, "/products/id", it, (void **)&x->ids, &rows));
    }
    if (x->n > 0 && catalog_exists(x->c, "/products/status"))
        TRY(catalog_read_all(x->c, "/products/status", H5T_NATIVE_UINT8, (void **)&x->status, &rows));
    if (catalog_exists(x->c, "/categories/levels")) {
        int64_t nl = 0;
        TRY(read_strings(x->c, "/categories/levels", CATALOG_CLASS_BYTES, &x->levels, &nl));
        x->n_levels = (int)nl;
        TRY_ALLOC(x->classes = calloc((size_t)nl + 1, sizeof *x->classes));
        TRY_ALLOC(x->n_classes = calloc((size_t)nl + 1, sizeof *x->n_classes));
        for (int l = 0; l < x->n_levels; l++) {
            char name[300];
            snprintf(name, sizeof name, "/categories/%s", x->levels[l]);
            if (catalog_exists(x->c, name))
                TRY(read_strings(x->c, name, CATALOG_CLASS_BYTES, &x->classes[l], &x->n_classes[l]));
        }
        if (x->n > 0 && catalog_exists(x->c, "/products/labels"))
            TRY(catalog_read_all(x->c, "/products/labels", H5T_NATIVE_INT32, (void **)&x->labels, &rows));
    }
    if (x->n > 0 && catalog_exists(x->c, "/images/pixels") && catalog_is_complete(x->c, "/images") == 1) {
        int nd = 0;
        hsize_t d[8];
        TRY(catalog_dims(x->c, "/images/pixels", &nd, d));
        if (nd == 4 && d[1] == d[2] && d[3] == 3 && (int64_t)d[0] >= x->n) x->image_side = (int)d[1];
    }
    TRY_ALLOC(x->thumbs = calloc((size_t)x->n + 1, sizeof *x->thumbs));
fail:
    if (nt >= 0) H5Tclose(nt);
    if (it >= 0) H5Tclose(it);
    return rc;
}

static void free_catalog(struct report_ctx *x) {
    free(x->names), free(x->ids), free(x->labels), free(x->status);
    for (int l = 0; l < x->n_levels; l++) free_strings(x->classes ? x->classes[l] : NULL, x->n_classes ? x->n_classes[l] : 0);
    free(x->classes), free(x->n_classes);
    free_strings(x->levels, x->n_levels);
    for (int64_t i = 0; x->thumbs && i < x->n; i++) free(x->thumbs[i]);
    free(x->thumbs);
}

int report_write(struct catalog *c, const char *catalog_path, const struct report_opts *o) {
    int rc = ST_OK;
    struct hbuf b = {0};
    struct report_ctx x = {0};
    x.c = c, x.o = o, x.b = &b;
    TRY(runs_load(c, &x.runs, &x.n_runs));
    const struct run_info *sel = NULL, *train = NULL, *sim = NULL;
    if (o->run_id) {
        sel = runs_find(x.runs, x.n_runs, o->run_id);
        if (!sel) {
            rc = ST_USAGE;
            goto fail;
        }
    }
    if (sel && !strcmp(sel->command, "train")) train = sel;
    else train = runs_latest(x.runs, x.n_runs, "train");
    if (sel && !strcmp(sel->command, "similarity")) sim = sel;
    else sim = runs_latest(x.runs, x.n_runs, "similarity");
    if (!sel) sel = train ? train : x.n_runs ? &x.runs[x.n_runs - 1] : NULL;
    TRY(load_catalog(&x));

    char when[40];
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tmv);
    hb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<title>assort report: ");
    hb_text(&b, catalog_path);
    hb_puts(&b, "</title><style>");
    hb_puts(&b, STYLE);
    hb_puts(&b, "</style></head><body><header><h1>assort report</h1><p>");
    hb_text(&b, catalog_path);
    hb_puts(&b, " &#183; ");
    hb_text(&b, sel ? sel->id : "no runs");
    hb_printf(&b, " &#183; generated %s by assort %s (%s)</p></header>", when, ASSORT_VERSION,
              ASSORT_GIT_COMMIT);
    hb_puts(&b, "<nav><a href=\"#summary\">Summary</a><a href=\"#curves\">Learning curves</a>"
                "<a href=\"#confusion\">Confusion</a><a href=\"#per-class\">Per class</a>"
                "<a href=\"#calibration\">Calibration</a><a href=\"#neighbours\">Neighbours</a>"
                "<a href=\"#review\">Review queue</a><a href=\"#duplicates\">Near-duplicates</a>"
                "<a href=\"#nightly\">Nightly</a></nav><main>");
    section_summary(&x, sel);
    if (train && train != sel) {
        hb_puts(&b, "<p class=\"note\">Training sections show run <code>");
        hb_text(&b, train->id);
        hb_puts(&b, "</code> (the newest complete train run).</p>");
    }
    TRY(section_curves(&x, train));
    TRY(section_confusion(&x, train));
    section_per_class(&x, train);
    TRY(section_calibration(&x, train));
    TRY(report_section_neighbours(&x, sim));
    TRY(report_section_review(&x));
    TRY(report_section_duplicates(&x, sim));
    TRY(report_section_nightly(&x));
    hb_printf(&b, "</main><footer>assort %s &#183; one self-contained file: no network, no external "
                  "assets</footer><script>%s</script></body></html>\n", ASSORT_VERSION, SCRIPT);
    REQUIRE(!b.oom, ST_ERR, "out of memory building the report");
    int wr = ST_OK;
    if (dist_rank() == 0) {
        wr = fs_write_atomic(o->out_path, b.s, b.len);
        if (wr != ST_OK) err_wrap(wr, "writing the report %s", o->out_path);
    }
    TRY(dist_agree(wr));
    log_info("report", "wrote %s (%.1f KiB, run %s)", o->out_path, b.len / 1024.0, sel ? sel->id : "none");
fail:
    free_catalog(&x);
    runs_free(x.runs, x.n_runs);
    hb_free(&b);
    return rc;
}
