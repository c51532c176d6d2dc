/* cmd_ingest.c - `assort ingest`: CSV + images -> the HDF5 catalog. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "commands.h"
#include "dist/dist.h"
#include "ingest/ingest.h"
#include "util/check.h"

/* Replaces an owned config string. */
static int set_str(char **field, const char *value) {
    char *copy = strdup(value);
    if (!copy) return err_set(ST_ERR, "out of memory");
    free(*field);
    *field = copy;
    return ST_OK;
}

int cmd_ingest(int argc, char **argv) {
    static const struct cli_cmd self = {
        "ingest", "[CATALOG.h5]",
        "build or update the catalog from a product CSV and an image folder", NULL, NULL};
    const struct cli_cmd *cmd = &self;
    for (int i = 0; i < cli_n_commands; i++)
        if (!strcmp(cli_commands[i].name, "ingest")) cmd = &cli_commands[i];
    int update = 0;
    const char *csv = NULL, *images = NULL;
    const struct cli_opt opts[] = {
        {"update", 'u', CLI_FLAG, &update, NULL,
         "update an existing catalog (required when CATALOG.h5 exists)"},
        {"csv", 0, CLI_STR, &csv, "FILE", "product CSV (overrides ingest.csv)"},
        {"images", 0, CLI_STR, &images, "DIR", "images root (overrides ingest.images_root)"},
        CLI_OPT_END};
    struct cli_ctx ctx;
    struct ingest_counts ct;
    int rc = cli_parse(&ctx, cmd, opts, argc, argv, 0, 1);
    if (rc != ST_OK) goto fail;
    TRY(cli_load_config(&ctx));
    if (ctx.n_pos == 1) TRY(set_str(&ctx.cfg->catalog.path, ctx.pos[0]));
    if (csv) TRY(set_str(&ctx.cfg->ingest.csv, csv));
    if (images) TRY(set_str(&ctx.cfg->ingest.images_root, images));
    TRY(ingest_run(ctx.cfg, ctx.cfg->catalog.path, update, &ct));
    if (dist_rank() == 0)
        printf("ingest: %lld rows read, %lld accepted: %lld new, %lld changed, %lld unchanged, "
               "%lld removed, %lld rejected; %lld images written; %lld products in %s\n",
               (long long)ct.csv_rows, (long long)ct.accepted, (long long)ct.new_count,
               (long long)ct.changed, (long long)ct.unchanged, (long long)ct.removed,
               (long long)ct.rejected, (long long)ct.images_written, (long long)ct.total_rows,
               ctx.cfg->catalog.path);
fail:
    cli_fail_fast(cmd, rc);
    cli_ctx_free(&ctx);
    return rc;
}
