/* commands.c - the subcommand table, in pipeline order. */
#include <stddef.h>

#include "cli.h"
#include "commands.h"

const struct cli_cmd cli_commands[] = {
    {"info", "CATALOG.h5", "print a catalog's summary: schema, products, categories, contents",
     NULL, cmd_info},
    {"config", NULL, "print the default or the resolved configuration",
     "With --defaults, prints the full default YAML with comments. Otherwise loads\n"
     "-c FILE and --set overrides and prints the resolved config and its hash.",
     cmd_config},
    {"train", "CATALOG.h5", "train classification heads on the extracted features", NULL,
     cmd_train},
};
const int cli_n_commands = (int)(sizeof cli_commands / sizeof cli_commands[0]);
