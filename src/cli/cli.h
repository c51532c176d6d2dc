/* cli.h - subcommand plumbing: option tables, --help text, config loading.
 *
 * Every subcommand declares its options in a table; cli_parse() adds the
 * common ones (-c/--config, --set, -v/--verbose, -h/--help), prints help
 * generated from the table, and collects positional arguments.
 */
#ifndef ASSORT_CLI_H
#define ASSORT_CLI_H

#include "config/config.h"

enum cli_kind { CLI_FLAG, CLI_STR, CLI_INT, CLI_DOUBLE };

struct cli_opt {
    const char *name;     /* long name, without "--" */
    char short_name;      /* 0 for none */
    enum cli_kind kind;
    void *target;         /* int* (FLAG, INT), const char** (STR), double* */
    const char *arg;      /* metavariable in help ("N", "FILE") */
    const char *help;
};
#define CLI_OPT_END {NULL, 0, CLI_FLAG, NULL, NULL, NULL}

struct cli_cmd {
    const char *name;
    const char *args;     /* positional synopsis, e.g. "CATALOG.h5" */
    const char *summary;  /* one line for `assort --help` */
    const char *details;  /* paragraph(s) for `assort CMD --help` (may be NULL) */
    int (*run)(int argc, char **argv);
};

struct cli_ctx {
    const struct cli_cmd *cmd;
    const char *config_path;
    const char **sets;    /* --set values, in order */
    int n_sets;
    int verbose;
    int help;
    char **pos;           /* positional arguments */
    int n_pos;
    struct config *cfg;   /* after cli_load_config() */
};

/* Sentinel returned by cli_parse() when --help was printed: exit 0. */
#define CLI_HELP_SHOWN (-1)

/* Parses argv (argv[0] is the subcommand name). min_pos/max_pos bound the
 * positional count (max_pos < 0: unbounded). Returns ST_OK, ST_USAGE (message
 * set) or CLI_HELP_SHOWN. */
int cli_parse(struct cli_ctx *ctx, const struct cli_cmd *cmd, const struct cli_opt *opts,
              int argc, char **argv, int min_pos, int max_pos);

/* Loads the config named by -c (or defaults) with the --set overrides on
 * every rank, applies run.progress_interval, and agrees on the status. */
int cli_load_config(struct cli_ctx *ctx);

/* Call first thing at a command's `fail:` label. A failure that not every
 * rank agreed on (dist_agree) may leave other ranks waiting in a collective,
 * so no collective cleanup (H5Fclose, barriers) may run: this ends the job
 * now through dist_abort (message printed once, by the failing rank). Agreed
 * failures and success return normally. */
void cli_fail_fast(const struct cli_cmd *cmd, int rc);

/* Frees what cli_parse/cli_load_config allocated. */
void cli_ctx_free(struct cli_ctx *ctx);

/* Prints the help of one command. */
void cli_print_help(const struct cli_cmd *cmd, const struct cli_opt *opts);

/* The command table (commands.c). */
extern const struct cli_cmd cli_commands[];
extern const int cli_n_commands;

#endif
