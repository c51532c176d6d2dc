#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/check.h"
#include "util/log.h"

static const char *common_help =
    "  -c, --config FILE     YAML config (see `assort config --defaults`, docs/config.md)\n"
    "      --set KEY=VALUE   override one config key, e.g. --set train.epochs=5 (repeatable)\n"
    "  -v, --verbose         every MPI rank logs, lines prefixed [rK]\n"
    "  -h, --help            this help\n";

void cli_print_help(const struct cli_cmd *cmd, const struct cli_opt *opts) {
    printf("usage: assort %s [options]%s%s\n\n%s\n", cmd->name, cmd->args ? " " : "",
           cmd->args ? cmd->args : "", cmd->summary);
    if (cmd->details) printf("\n%s\n", cmd->details);
    printf("\noptions:\n");
    for (const struct cli_opt *o = opts; o && o->name; o++) {
        char left[64];
        const char *arg = o->kind == CLI_FLAG ? "" : (o->arg ? o->arg : "VALUE");
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, *arg ? " " : "", arg);
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, *arg ? " " : "", arg);
        printf("  %-20s  %s\n", left, o->help);
    }
    printf("%s", common_help);
    printf("\nexit codes: 0 ok, 1 failure, 2 usage/config error, 3 bad input data,\n"
           "            4 interrupted after a checkpoint (rerun to resume)\n");
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, const char *name, char s) {
    for (const struct cli_opt *o = opts; o && o->name; o++)
        if ((name && strcmp(o->name, name) == 0) || (s && o->short_name == s)) return o;
    return NULL;
}

static int set_opt(const struct cli_opt *o, const char *cmd, const char *val) {
    char *end = NULL;
    switch (o->kind) {
    case CLI_FLAG:
        *(int *)o->target = 1;
        return ST_OK;
    case CLI_STR:
        *(const char **)o->target = val;
        return ST_OK;
    case CLI_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || !end || *end || end == val)
            return err_set(ST_USAGE, "%s: --%s expects an integer, got '%s'", cmd, o->name, val);
        *(int *)o->target = (int)v;
        return ST_OK;
    }
    case CLI_DOUBLE: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || !end || *end || end == val)
            return err_set(ST_USAGE, "%s: --%s expects a number, got '%s'", cmd, o->name, val);
        *(double *)o->target = v;
        return ST_OK;
    }
    }
    return ST_OK;
}

int cli_parse(struct cli_ctx *ctx, const struct cli_cmd *cmd, const struct cli_opt *opts,
              int argc, char **argv, int min_pos, int max_pos) {
    memset(ctx, 0, sizeof *ctx);
    ctx->cmd = cmd;
    ctx->sets = calloc((size_t)argc + 1, sizeof *ctx->sets);
    ctx->pos = calloc((size_t)argc + 1, sizeof *ctx->pos);
    if (!ctx->sets || !ctx->pos) return err_set(ST_ERR, "out of memory");
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            ctx->pos[ctx->n_pos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) { only_pos = 1; continue; }
        const char *name = NULL, *inline_val = NULL;
        char sname = 0, namebuf[128];
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            if (n >= sizeof namebuf) n = sizeof namebuf - 1;
            memcpy(namebuf, a + 2, n);
            namebuf[n] = '\0';
            name = namebuf;
            inline_val = eq ? eq + 1 : NULL;
        } else {
            sname = a[1];
            if (a[2]) inline_val = a + 2;
        }
        /* Common options. */
        int is_config = (name && !strcmp(name, "config")) || sname == 'c';
        int is_set = name && !strcmp(name, "set");
        if (is_config || is_set) {
            const char *v = inline_val;
            if (!v) {
                if (i + 1 >= argc)
                    return err_set(ST_USAGE, "%s: %s needs a value; see `assort %s --help`",
                                   cmd->name, a, cmd->name);
                v = argv[++i];
            }
            if (is_config) ctx->config_path = v;
            else ctx->sets[ctx->n_sets++] = v;
            continue;
        }
        if ((name && !strcmp(name, "verbose")) || sname == 'v') { ctx->verbose = 1; continue; }
        if ((name && !strcmp(name, "help")) || sname == 'h') { ctx->help = 1; continue; }
        const struct cli_opt *o = find_opt(opts, name, sname);
        if (!o)
            return err_set(ST_USAGE, "%s: unknown option '%s'; see `assort %s --help`", cmd->name, a,
                           cmd->name);
        const char *v = inline_val;
        if (o->kind != CLI_FLAG && !v) {
            if (i + 1 >= argc)
                return err_set(ST_USAGE, "%s: %s needs a value (%s); see `assort %s --help`",
                               cmd->name, a, o->arg ? o->arg : "VALUE", cmd->name);
            v = argv[++i];
        }
        int rc = set_opt(o, cmd->name, v);
        if (rc != ST_OK) return rc;
    }
    if (ctx->help) {
        if (dist_rank() == 0) cli_print_help(cmd, opts);
        cli_ctx_free(ctx); /* nothing more to parse: callers may return at once */
        return CLI_HELP_SHOWN;
    }
    log_init(dist_rank(), dist_size(), ctx->verbose);
    if (ctx->n_pos < min_pos)
        return err_set(ST_USAGE, "%s: expected %s; see `assort %s --help`", cmd->name,
                       cmd->args ? cmd->args : "more arguments", cmd->name);
    if (max_pos >= 0 && ctx->n_pos > max_pos)
        return err_set(ST_USAGE, "%s: unexpected argument '%s'; see `assort %s --help`", cmd->name,
                       ctx->pos[max_pos], cmd->name);
    return ST_OK;
}

int cli_load_config(struct cli_ctx *ctx) {
    int rc = config_load(ctx->config_path, (const char *const *)ctx->sets, ctx->n_sets, &ctx->cfg);
    rc = dist_agree(rc);
    if (rc == ST_OK) log_set_progress_interval(ctx->cfg->run.progress_interval);
    return rc;
}

void cli_fail_fast(const struct cli_cmd *cmd, int rc) {
    if (rc == ST_OK || rc == CLI_HELP_SHOWN || dist_size() == 1 || dist_failure_agreed()) return;
    char msg[2300];
    snprintf(msg, sizeof msg, "%s: %s", cmd->name, err_msg());
    dist_abort(rc, msg);
}

void cli_ctx_free(struct cli_ctx *ctx) {
    free(ctx->sets);
    free(ctx->pos);
    if (ctx->cfg) config_free(ctx->cfg);
    ctx->sets = NULL;
    ctx->pos = NULL;
    ctx->cfg = NULL;
}
