/* cmd_extract.c - `assort extract CATALOG.h5`: backbone features per product. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "commands.h"
#include "extract/extract.h"
#include "util/check.h"
#include "util/signals.h"

int cmd_extract(int argc, char **argv) {
    static const struct cli_cmd self = {
        "extract", "CATALOG.h5", "EfficientNet-Lite features of the products (dirty ones by default)",
        "Extracts /features/<backbone>/{data, normalized, valid} for the active products\n"
        "marked dirty (new or changed images) or without valid features; --all redoes every\n"
        "active product. The list is split into contiguous shards over the MPI ranks; pixels\n"
        "are read with collective parallel-HDF5 reads, double-buffered against the compute.\n"
        "Dirty flags are cleared in the same transaction. Progress is committed every\n"
        "extract.commit_every batches; SIGTERM/SIGUSR1 stop at a batch boundary with exit\n"
        "code 4 and the same command resumes (the result equals an uninterrupted run).\n"
        "Features are float32 or float16 (extract.dtype). See docs/extract.md.\n\n"
        "examples:\n"
        "  assort extract catalog.h5\n"
        "  mpirun -n 2 assort extract catalog.h5 --all --set run.threads=1\n"
        "  assort extract catalog.h5 --backbone lite2 --set extract.dtype=float16",
        NULL};
    const char *backbone = NULL, *device = NULL;
    int all = 0, batch = 0, stop_after = 0;
    const struct cli_opt opts[] = {
        {"all", 0, CLI_FLAG, &all, NULL, "extract every active product, not only the dirty ones"},
        {"backbone", 0, CLI_STR, &backbone, "lite0|lite1|lite2",
         "network (default: extract.backbone)"},
        {"batch", 0, CLI_INT, &batch, "N", "images per forward pass per rank (default: extract.batch)"},
        {"device", 0, CLI_STR, &device, "cpu|gpu|auto", "where to run (default: extract.device)"},
        {"stop-after", 0, CLI_INT, &stop_after, "N",
         "stop as if SIGTERM arrived after N batches (exit code 4; rerun to resume)"},
        CLI_OPT_END};
    struct cli_ctx ctx;
    int rc = cli_parse(&ctx, &self, opts, argc, argv, 1, 1);
    if (rc != ST_OK) goto fail;
    TRY(cli_load_config(&ctx));
    if (backbone && strcmp(backbone, "lite0") && strcmp(backbone, "lite1") &&
        strcmp(backbone, "lite2"))
        FAIL(ST_USAGE, "--backbone %s: expected lite0, lite1 or lite2", backbone);
    if (device && strcmp(device, "cpu") && strcmp(device, "gpu") && strcmp(device, "auto"))
        FAIL(ST_USAGE, "--device %s: expected cpu, gpu or auto", device);
    REQUIRE(batch >= 0 && stop_after >= 0, ST_USAGE, "--batch and --stop-after must be >= 0");
    signals_install();
    struct extract_request req = {ctx.pos[0], all, backbone, batch, device, stop_after};
    TRY(extract_catalog(&req, ctx.cfg));
fail:
    cli_fail_fast(&self, rc);
    cli_ctx_free(&ctx);
    return rc;
}
