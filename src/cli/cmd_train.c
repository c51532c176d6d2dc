/* cmd_train.c - `assort train CATALOG.h5`: data-parallel head training. */
#include <stdio.h>

#include "cli/cli.h"
#include "commands.h"
#include "train/train_catalog.h"
#include "util/check.h"
#include "util/signals.h"

int cmd_train(int argc, char **argv) {
    static const struct cli_cmd self = {
        "train", "CATALOG.h5", "train classification heads on the extracted features",
        "Trains one head (linear or mlp) per level in train.levels on\n"
        "/features/<train.features>, data-parallel over the MPI ranks, with a stratified\n"
        "split stored in /splits/<finest level> and reused. Writes\n"
        "/heads/<backbone>-<level>-<head>, the run record /runs/<id> with metrics and\n"
        "CATALOG.train-<id>.json; checkpoints every epoch to CATALOG.train.ckpt.h5.\n"
        "See docs/training.md.",
        NULL};
    const char *level = NULL, *head = NULL;
    int resume = 0, stop_after = 0;
    const struct cli_opt opts[] = {
        {"resume", 0, CLI_FLAG, &resume, NULL,
         "continue from CATALOG.train.ckpt.h5 (ends with the same weights as an uninterrupted run)"},
        {"level", 0, CLI_STR, &level, "L", "train only this category level (default: train.levels)"},
        {"head", 0, CLI_STR, &head, "linear|mlp", "head type (default: train.head)"},
        {"stop-after", 0, CLI_INT, &stop_after, "N",
         "stop cleanly after N epochs with exit code 4 (e.g. before a Slurm time limit); "
         "rerun with --resume"},
        CLI_OPT_END};
    struct cli_ctx ctx;
    int rc = cli_parse(&ctx, &self, opts, argc, argv, 1, 1);
    if (rc != ST_OK) goto fail;
    TRY(cli_load_config(&ctx));
    signals_install();
    struct train_request req = {ctx.pos[0], level, head, resume, stop_after};
    TRY(train_catalog(&req, ctx.cfg));
fail:
    cli_fail_fast(&self, rc);
    cli_ctx_free(&ctx);
    return rc;
}
