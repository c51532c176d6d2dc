/* cmd_report.c - `assort report CATALOG.h5 [--run ID] [--out report.html]`:
 * one self-contained HTML file about a catalog's runs (src/report/report.h). */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "commands.h"
#include "dist/dist.h"
#include "report/report.h"
#include "util/check.h"

static const struct cli_cmd self = {
    "report", "CATALOG.h5 --out report.html", "write a self-contained HTML report of a run",
    "Writes ONE HTML file (no network, no external assets): run summary, learning\n"
    "curves, confusion matrix, per-class precision/recall/F1 (sortable), reliability\n"
    "before/after temperature scaling, nearest-neighbour gallery with thumbnails,\n"
    "review queue, near-duplicate groups and nightly diff/drift. A section whose data\n"
    "the catalog lacks says so. --run ID picks the run (an id or a unique part of\n"
    "one; default: the newest complete train run); the similarity sections use the\n"
    "newest complete similarity run unless --run names one. --out defaults to\n"
    "report.out, or <catalog>.report.html when that is empty. See docs/report.md.\n\n"
    "examples:\n"
    "  assort report demo/catalog.h5 --out demo/report.html\n"
    "  assort report demo/catalog.h5 --run 0102-train --set report.gallery_rows=40",
    cmd_report};

int cmd_report(int argc, char **argv) {
    int rc = ST_OK, thumb = 64;
    const char *run = NULL, *out = NULL;
    char def_out[4200];
    struct cli_ctx ctx = {0};
    struct cli_opt opts[] = {
        {"run", 0, CLI_STR, &run, "ID", "the run to report (default: newest complete train run)"},
        {"out", 'o', CLI_STR, &out, "FILE", "the HTML file (default report.out or CATALOG.report.html)"},
        {"thumb", 0, CLI_INT, &thumb, "PX", "thumbnail side in pixels (16 to 256, default 64)"},
        CLI_OPT_END};
    struct catalog *c = NULL;
    rc = cli_parse(&ctx, &self, opts, argc, argv, 1, 1);
    if (rc != ST_OK) goto fail;
    TRY(cli_load_config(&ctx));
    REQUIRE(thumb >= 16 && thumb <= 256, ST_USAGE, "--thumb %d: give 16 to 256 pixels", thumb);
    if (!out || !*out) out = ctx.cfg->report.out;
    if (!out || !*out) {
        snprintf(def_out, sizeof def_out, "%s.report.html", ctx.pos[0]);
        out = def_out;
    }
    TRY(dist_agree(catalog_open(ctx.pos[0], 0, &c)));
    struct report_opts o = {run, out, ctx.cfg->report.gallery_rows, ctx.cfg->report.review_rows, thumb};
    TRY(dist_agree(report_write(c, ctx.pos[0], &o)));
fail:
    cli_fail_fast(&self, rc);
    if (c) catalog_close(c);
    cli_ctx_free(&ctx);
    return rc;
}
