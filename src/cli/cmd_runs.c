/* cmd_runs.c - `assort runs CATALOG.h5 [--json] [--compare A B]`: the run
 * records of a catalog as a table, as JSON, or two of them compared. */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "commands.h"
#include "dist/dist.h"
#include "report/runs.h"
#include "util/check.h"

static const struct cli_cmd self = {
    "runs", "CATALOG.h5 [--compare A B]", "list the runs recorded in a catalog, or compare two",
    "Lists every run record (/runs/<id>): id, start date, command, config hash, wall\n"
    "time and key metrics (test top-1 and macro-F1 per level for train; queries,\n"
    "duplicate groups and AUC for similarity; the leading numbers otherwise).\n"
    "--json prints the same as a JSON array with each run's full metrics object.\n"
    "--compare A B prints the config keys whose values differ (A-value -> B-value)\n"
    "and the flattened metrics side by side with B - A. A and B are run ids or any\n"
    "part of one that names a single run.\n\n"
    "examples:\n"
    "  assort runs demo/catalog.h5\n"
    "  assort runs demo/catalog.h5 --compare 0101-train-1a2b 0102-train-9f3c",
    cmd_runs};

int cmd_runs(int argc, char **argv) {
    int rc = ST_OK, json = 0, compare = 0, n = 0;
    struct cli_ctx ctx = {0};
    struct cli_opt opts[] = {
        {"json", 0, CLI_FLAG, &json, NULL, "print JSON instead of a table"},
        {"compare", 0, CLI_FLAG, &compare, NULL, "compare the two runs given after the catalog"},
        CLI_OPT_END};
    struct catalog *c = NULL;
    struct run_info *runs = NULL;
    rc = cli_parse(&ctx, &self, opts, argc, argv, 1, 3);
    if (rc != ST_OK) goto fail;
    REQUIRE(compare ? ctx.n_pos == 3 : ctx.n_pos == 1, ST_USAGE,
            compare ? "--compare needs two run ids: assort runs CATALOG.h5 --compare A B"
                    : "unexpected argument '%s' (did you mean --compare A B?)",
            ctx.n_pos > 1 ? ctx.pos[1] : "");
    TRY(dist_agree(catalog_open(ctx.pos[0], 0, &c)));
    TRY(dist_agree(runs_load(c, &runs, &n)));
    if (compare) {
        /* runs_find sets the message (with the candidates) when it fails */
        const struct run_info *a = runs_find(runs, n, ctx.pos[1]);
        const struct run_info *b = a ? runs_find(runs, n, ctx.pos[2]) : NULL;
        if (!a || !b) {
            rc = ST_USAGE;
            goto fail;
        }
        int wr = dist_rank() == 0 ? runs_compare(stdout, a, b) : ST_OK;
        TRY(dist_agree(wr));
    } else {
        int wr = dist_rank() == 0 ? runs_print(stdout, runs, n, json) : ST_OK;
        TRY(dist_agree(wr));
    }
    fflush(stdout);
fail:
    cli_fail_fast(&self, rc);
    runs_free(runs, n);
    if (c) catalog_close(c);
    cli_ctx_free(&ctx);
    return rc;
}
