/* commands.c - the subcommand table, in pipeline order. */
#include <stddef.h>

#include "cli.h"
#include "commands.h"

const struct cli_cmd cli_commands[] = {
    {"info", "CATALOG.h5", "print a catalog's summary: schema, products, categories, contents",
     NULL, cmd_info},
    {"config", NULL, "print the default or the resolved configuration",
     "Without options, loads the defaults, then -c FILE (its include: files first),\n"
     "then each --set KEY=VALUE in order, and prints the resolved config as YAML\n"
     "followed by `# config hash: <16 hex digits>` (XXH3-64 of that YAML, stored\n"
     "with every run record). --defaults prints the commented default YAML\n"
     "(configs/default.yaml); --markdown prints the schema table (docs/config.md).\n"
     "Errors name file:line:column and the fix, and exit with code 2.\n\n"
     "examples:\n"
     "  assort config --defaults > my.yaml\n"
     "  assort config -c configs/experiments/demo.yaml --set train.epochs=5\n"
     "  assort config --set ingest.levels=[master_category,article_type]",
     cmd_config},
    {"train", "CATALOG.h5", "train classification heads on the extracted features", NULL,
     cmd_train},
    {"similarity", "CATALOG.h5", "image and name neighbours, fused scores, near-duplicate groups",
     NULL, cmd_similarity},
    {"nightly", "CATALOG.h5", "the nightly pipeline: plan (--plan) and the night's diff (--diff)", NULL,
     cmd_nightly},
};
const int cli_n_commands = (int)(sizeof cli_commands / sizeof cli_commands[0]);
