/* main.c - the `assort` binary: global options, subcommand dispatch, exit codes.
 *
 * Only main decides to exit. A command returns a status on every rank; a
 * failure every rank agreed on (dist_agree) is printed once by rank 0 and all
 * ranks exit normally with the code; any other failure ends the job through
 * dist_abort (MPI_Abort) so no rank hangs.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "dist/dist.h"
#include "util/log.h"
#include "util/signals.h"
#include "util/status.h"

static void print_usage(void) {
    printf("usage: assort COMMAND [options] [args]\n\n"
           "Classifies a product catalog with transfer learning (EfficientNet-Lite\n"
           "features, trained heads, image and name similarity). Runs as one process,\n"
           "under mpirun -n N, or under srun.\n\ncommands:\n");
    for (int i = 0; i < cli_n_commands; i++)
        printf("  %-14s %s\n", cli_commands[i].name, cli_commands[i].summary);
    printf("\n`assort COMMAND --help` documents each command's options.\n"
           "exit codes: 0 ok, 1 failure, 2 usage/config error, 3 bad input data,\n"
           "            4 interrupted after a checkpoint (rerun to resume)\n"
           "version %s (%s)\n", ASSORT_VERSION, ASSORT_GIT_COMMIT);
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) {
        fprintf(stderr, "assort: %s\n", err_msg());
        return ST_ERR;
    }
    int rc = ST_OK;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        if (dist_rank() == 0) print_usage();
        rc = argc < 2 ? ST_USAGE : ST_OK;
        dist_finalize();
        return rc;
    }
    if (!strcmp(argv[1], "--version")) {
        if (dist_rank() == 0) {
            char lib[MPI_MAX_LIBRARY_VERSION_STRING];
            int len = 0;
            if (MPI_Get_library_version(lib, &len) != MPI_SUCCESS) len = 0;
            lib[len] = '\0';
            char *nl = strchr(lib, '\n');
            if (nl) *nl = '\0';
            nl = strchr(lib, ',');
            if (nl) *nl = '\0';
            printf("assort %s (%s)\nMPI: %s, %d rank(s); PML: %s\n", ASSORT_VERSION,
                   ASSORT_GIT_COMMIT, len ? lib : "unknown library", dist_size(), dist_pml_note());
        }
        dist_finalize();
        return ST_OK;
    }
    const struct cli_cmd *cmd = NULL;
    for (int i = 0; i < cli_n_commands; i++)
        if (!strcmp(argv[1], cli_commands[i].name)) cmd = &cli_commands[i];
    if (!cmd) {
        if (dist_rank() == 0)
            fprintf(stderr, "assort: unknown command '%s'; see `assort --help`\n", argv[1]);
        dist_finalize();
        return ST_USAGE;
    }
    err_clear();
    signals_install();
    rc = cmd->run(argc - 1, argv + 1);
    if (rc == CLI_HELP_SHOWN) rc = ST_OK;
    rc = signals_finish(cmd->name, rc); /* a signal after the last stop check: logged, ignored */
    if (rc != ST_OK) {
        if (dist_size() == 1 || dist_failure_agreed()) {
            if (dist_rank() == 0) fprintf(stderr, "assort %s: %s\n", cmd->name, err_msg());
        } else {
            char msg[2300];
            snprintf(msg, sizeof msg, "%s: %s", cmd->name, err_msg());
            dist_abort(rc, msg);
        }
    }
    dist_finalize();
    return rc;
}
