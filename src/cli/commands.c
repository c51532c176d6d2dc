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
    {"ingest", "[CATALOG.h5]", "build or update the catalog from a product CSV and an image folder",
     "Reads ingest.csv (or --csv FILE) and the images under ingest.images_root (or\n"
     "--images DIR), checks every row and image, decodes and resizes the images to\n"
     "ingest.image_size and writes the catalog (CATALOG.h5, else catalog.path)\n"
     "atomically: a failure or a kill leaves the previous catalog as it was.\n"
     "Skipped rows are listed on stderr, in /rejects/<run-id> and in the rejects CSV\n"
     "(ingest.rejects_csv, default <catalog>.rejects.csv). More than\n"
     "ingest.max_reject_ratio rejected rows fail the run (exit 3, nothing written).\n"
     "An existing catalog is only updated with --update: new ids are appended,\n"
     "changed ones rewritten and marked dirty, absent ones marked removed.\n"
     "Runs under mpirun: image work is shared between ranks. See docs/ingest.md.\n\n"
     "examples:\n"
     "  assort ingest --csv catalog.csv --images photos/ catalog.h5\n"
     "  mpirun -n 2 assort ingest --update --csv tonight.csv --images photos/ catalog.h5",
     cmd_ingest},
    {"train", "CATALOG.h5", "train classification heads on the extracted features", NULL,
     cmd_train},
    {"similarity", "CATALOG.h5", "image and name neighbours, fused scores, near-duplicate groups",
     NULL, cmd_similarity},
    {"classify", "CATALOG.h5", "categories, calibrated confidence, flags and CSV/JSONL exports",
     NULL, cmd_classify},
    {"runs", "CATALOG.h5 [--compare A B]", "list the runs recorded in a catalog, or compare two",
     NULL, cmd_runs},
    {"report", "CATALOG.h5 --out report.html", "write a self-contained HTML report of a run",
     NULL, cmd_report},
};
const int cli_n_commands = (int)(sizeof cli_commands / sizeof cli_commands[0]);
