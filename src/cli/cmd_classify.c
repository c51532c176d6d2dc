/* cmd_classify.c - `assort classify CATALOG.h5`: categories with calibrated
 * confidence, top-3 and flags into /predictions/<run>, plus CSV/JSONL exports. */
#include <stdio.h>

#include "classify/classify_catalog.h"
#include "cli/cli.h"
#include "commands.h"
#include "dist/dist.h"
#include "util/check.h"

static const struct cli_cmd self = {
    "classify", "CATALOG.h5", "categories, calibrated confidence, flags and CSV/JSONL exports",
    "For every product and every level with a trained head, combines the head's calibrated\n"
    "probabilities, a similarity-weighted vote of labelled neighbours (newest complete\n"
    "/similarity run) and a name classifier (/heads/name-<level>, trained on the train split\n"
    "when absent or stale). The weights are chosen per level on the validation split\n"
    "(classify.weights=search: best validation top-1 on a simplex grid) or taken from\n"
    "classify.w_head/w_knn/w_name (classify.weights=fixed). Validation and test metrics go\n"
    "to the run record. Writes /predictions/<run-id> and\n"
    "<out_dir>/predictions[-<run-id>].csv/.jsonl.\n"
    "See docs/classify.md.",
    cmd_classify};

int cmd_classify(int argc, char **argv) {
    int rc = ST_OK;
    struct cli_ctx ctx = {0};
    const char *backbone = NULL, *head = NULL, *level = NULL;
    int retrain = 0;
    struct cli_opt opts[] = {
        {"backbone", 0, CLI_STR, &backbone, "NAME", "features and heads of this backbone (default train.features)"},
        {"head", 0, CLI_STR, &head, "linear|mlp", "which trained head (default train.head)"},
        {"level", 0, CLI_STR, &level, "LEVEL", "classify only this level"},
        {"retrain-names", 0, CLI_FLAG, &retrain, NULL, "retrain the name models even when current"},
        CLI_OPT_END};
    char run_id[96] = "";
    rc = cli_parse(&ctx, &self, opts, argc, argv, 1, 1);
    if (rc == CLI_HELP_SHOWN) return ST_OK;
    TRY(rc);
    TRY(cli_load_config(&ctx));
    struct classify_request req = {ctx.pos[0], backbone, head, level, retrain};
    TRY(classify_catalog(&req, ctx.cfg, run_id));
    if (dist_rank() == 0) printf("%s\n", run_id);
fail:
    cli_fail_fast(&self, rc);
    cli_ctx_free(&ctx);
    return rc;
}
