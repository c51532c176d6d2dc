/* cmd_config.c - `assort config`: the default YAML, the schema table, or the
 * resolved config with its hash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "config/schema.h"
#include "dist/dist.h"
#include "util/check.h"

static const struct cli_cmd *find_cmd(const char *name) {
    for (int i = 0; i < cli_n_commands; i++)
        if (!strcmp(cli_commands[i].name, name)) return &cli_commands[i];
    return NULL;
}

int cmd_config(int argc, char **argv) {
    int rc = ST_OK, defaults = 0, markdown = 0;
    char *text = NULL, hash[17];
    struct cli_ctx ctx = {0};
    const struct cli_opt opts[] = {
        {"defaults", 0, CLI_FLAG, &defaults, NULL,
         "print the full default config as commented YAML (configs/default.yaml)"},
        {"markdown", 0, CLI_FLAG, &markdown, NULL,
         "print the schema as a Markdown table (the one in docs/config.md)"},
        CLI_OPT_END,
    };
    const struct cli_cmd *cmd = find_cmd("config");
    REQUIRE(cmd, ST_ERR, "config: command table has no 'config' entry");
    rc = cli_parse(&ctx, cmd, opts, argc, argv, 0, 0);
    if (rc != ST_OK) goto fail;
    REQUIRE(!(defaults && markdown), ST_USAGE,
            "config: --defaults and --markdown print different things; give one of them");
    REQUIRE(!((defaults || markdown) && (ctx.config_path || ctx.n_sets)), ST_USAGE,
            "config: --%s ignores -c and --set; drop them or drop --%s", defaults ? "defaults" : "markdown",
            defaults ? "defaults" : "markdown");
    if (defaults) {
        TRY(config_defaults_yaml(&text));
    } else if (markdown) {
        TRY(config_schema_markdown(&text));
    } else {
        TRY(cli_load_config(&ctx));
        TRY(config_to_yaml(ctx.cfg, &text));
        TRY(config_hash(ctx.cfg, hash));
    }
    if (dist_rank() == 0) {
        fputs(text, stdout);
        if (!defaults && !markdown) printf("# config hash: %s\n", hash);
        fflush(stdout);
    }
fail:
    free(text);
    cli_ctx_free(&ctx);
    return rc;
}
