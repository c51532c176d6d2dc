/* cmd_nightly.c - `assort nightly`: the nightly pipeline's plan (--plan) and
 * the night's diff and drift figures (--diff). See docs/nightly.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "commands.h"
#include "dist/dist.h"
#include "nightly/diff.h"
#include "nightly/plan.h"
#include "nightly/scan.h"
#include "util/check.h"
#include "util/fsutil.h"
#include "util/log.h"

static const struct cli_cmd self = {
    "nightly", "CATALOG.h5", "the nightly pipeline: what would run and why (--plan), the night's diff (--diff)",
    "--plan jobs/nightly.yaml: reads the pipeline file and compares the night's CSV\n"
    "(--csv, else ingest.csv) and images (--images, else ingest.images_root) with\n"
    "the catalog's ids and image hashes; prints each stage with what it would do\n"
    "and why (counts of new, changed and removed products, rows to extract, warm\n"
    "start, skipped stages). Writes nothing. --emit tsv prints the same decisions\n"
    "for slurm/nightly.sh (fields separated by 0x1f).\n"
    "--diff: compares the newest predictions with the previous night's (changed\n"
    "categories, new review flags, new duplicate groups) and computes drift (class\n"
    "distribution TV/PSI, mean-embedding cosine shift, projection PSI); stores it\n"
    "under /nightly/<run-id> and warns when above nightly.drift_alert.\n\n"
    "examples:\n"
    "  assort nightly --plan jobs/nightly.yaml --csv night.csv --images photos/ cat.h5\n"
    "  assort nightly --diff cat.h5",
    cmd_nightly};

#define SEP "\x1f"

struct decision {
    int run;           /* 1 run, 0 skip */
    char why[512];
    struct str_list extra;  /* arguments added by the plan (ingest: --update, --csv ...) */
};

static int add_arg(struct str_list *l, const char *a) {
    char **n = realloc(l->items, sizeof *n * (size_t)(l->count + 1));
    if (!n) return err_set(ST_ERR, "out of memory");
    l->items = n;
    if (!(l->items[l->count] = strdup(a))) return err_set(ST_ERR, "out of memory");
    l->count++;
    return ST_OK;
}

/* The similarity query mode a stage runs with: its own `--query X` argument or
 * `similarity.query=X` override, else the config's. */
static const char *stage_query_mode(const struct plan_stage *st, const char *cfg_mode) {
    const char *mode = cfg_mode;
    for (int i = 0; i < st->sets.count; i++)
        if (!strncmp(st->sets.items[i], "similarity.query=", 17)) mode = st->sets.items[i] + 17;
    for (int i = 0; i + 1 < st->args.count; i++)
        if (!strcmp(st->args.items[i], "--query")) mode = st->args.items[i + 1];
    return mode;
}

static int decide(const struct plan_stage *st, const struct night_scan *s, const char *csv,
                  const char *images, const struct config *cfg, struct decision *d) {
    int rc = ST_OK;
    const char *cmd = st->command;
    int64_t changes = s->new_count + s->changed_count + s->removed_count;
    int64_t active_after = s->have_csv ? s->active - s->removed_count + s->new_count + s->reactivated : s->active;
    int changed = !s->catalog_exists || changes > 0;
    d->run = 1;
    if (!strcmp(cmd, "ingest")) {
        if (!s->have_csv) {
            d->run = 0;
            snprintf(d->why, sizeof d->why, "no CSV for tonight (give --csv or set ingest.csv)");
        } else if (!s->catalog_exists) {
            snprintf(d->why, sizeof d->why, "create the catalog: %lld products from %s (%lld images unreadable)",
                     (long long)s->new_count, csv, (long long)s->unreadable);
        } else {
            snprintf(d->why, sizeof d->why,
                     "%lld new, %lld changed (%lld image, %lld reactivated), %lld removed, %lld unchanged "
                     "(from CSV vs catalog hashes%s)", (long long)s->new_count, (long long)s->changed_count,
                     (long long)s->hash_changed, (long long)s->reactivated, (long long)s->removed_count,
                     (long long)(s->csv_rows - s->new_count - s->changed_count - s->unreadable),
                     s->unreadable ? "; some images unreadable, ingest will reject them" : "");
            TRY(add_arg(&d->extra, "--update"));
        }
        if (s->have_csv) {
            TRY(add_arg(&d->extra, "--csv"));
            TRY(add_arg(&d->extra, csv));
            if (images) {
                TRY(add_arg(&d->extra, "--images"));
                TRY(add_arg(&d->extra, images));
            }
        }
    } else if (!strcmp(cmd, "extract")) {
        snprintf(d->why, sizeof d->why, "%lld dirty (%lld new, %lld changed, %lld still dirty from before)",
                 (long long)s->to_extract, (long long)s->new_count, (long long)s->changed_count,
                 (long long)s->dirty_kept);
    } else if (!strcmp(cmd, "train")) {
        if (st->when == PLAN_CHANGED && !changed && s->n_heads > 0) {
            d->run = 0;
            snprintf(d->why, sizeof d->why, "skip: no new, changed or removed products; heads kept (%s)", s->head);
        } else if (s->n_heads > 0) {
            snprintf(d->why, sizeof d->why, "warm start from /heads/%s (%d heads stored)", s->head, s->n_heads);
        } else {
            snprintf(d->why, sizeof d->why, "no heads stored yet: train from scratch");
        }
    } else if (!strcmp(cmd, "similarity")) {
        int by_flag = !strcmp(stage_query_mode(st, cfg->similarity.query), "changed");
        /* --query changed also catches up on rows still flagged from an earlier night */
        int pending = by_flag && s->catalog_exists && s->last_similarity[0] && s->needs_sim_kept > 0;
        if (st->when == PLAN_CHANGED && !changed && !pending && s->last_similarity[0]) {
            d->run = 0;
            snprintf(d->why, sizeof d->why, "skip: nothing changed; classify uses /similarity/%s", s->last_similarity);
        } else if (by_flag && s->catalog_exists && s->last_similarity[0]) {
            snprintf(d->why, sizeof d->why,
                     "query %lld products (%lld new, %lld changed, %lld still flagged needs_similarity%s) "
                     "against all %lld active; the others keep their lists from earlier runs",
                     (long long)s->to_query, (long long)s->new_count, (long long)s->changed_count,
                     (long long)s->needs_sim_kept, s->have_needs_sim ? "" : ": no flag yet, so all",
                     (long long)active_after);
        } else {
            snprintf(d->why, sizeof d->why, "%lld new/changed products among %lld active, all %lld queried "
                     "against all%s", (long long)(s->new_count + s->changed_count), (long long)active_after,
                     (long long)active_after, s->last_similarity[0] ? "" : " (no similarity run yet)");
        }
    } else if (!strcmp(cmd, "classify")) {
        snprintf(d->why, sizeof d->why, "re-classify all %lld active products", (long long)active_after);
    } else if (!strcmp(cmd, "nightly")) {
        snprintf(d->why, sizeof d->why, "diff and drift against %s%s",
                 s->last_predictions[0] ? "predictions run " : "",
                 s->last_predictions[0] ? s->last_predictions : "nothing (first night: no previous predictions)");
    } else if (!strcmp(cmd, "report")) {
        snprintf(d->why, sizeof d->why, "tonight's report");
    } else {
        snprintf(d->why, sizeof d->why, "assort %s", cmd);
    }
    if (d->run && st->when == PLAN_CHANGED && !changed && strcmp(cmd, "train") && strcmp(cmd, "similarity")) {
        d->run = 0;
        snprintf(d->why, sizeof d->why, "skip: nothing changed tonight");
    }
fail:
    return rc;
}

static void print_list(const struct str_list *l, const char *sep) {
    for (int i = 0; i < l->count; i++) printf("%s%s", i ? sep : "", l->items[i]);
}

static int run_plan(struct cli_ctx *ctx, const char *plan_path, const char *csv, const char *images,
                    const char *emit) {
    int rc = ST_OK;
    struct nightly_plan *plan = NULL;
    struct night_scan scan;
    struct decision dec[PLAN_MAX_STAGES];
    memset(dec, 0, sizeof dec);
    char cfg_path[4096] = "";
    TRY(plan_load(plan_path, &plan));
    if (!ctx->config_path && plan->config[0]) {
        if (plan->config[0] == '/') snprintf(cfg_path, sizeof cfg_path, "%s", plan->config);
        else {
            char dir[2048];
            fs_dirname(plan_path, dir, sizeof dir);
            snprintf(cfg_path, sizeof cfg_path, "%s/%s", dir, plan->config);
        }
        ctx->config_path = cfg_path;
    }
    TRY(cli_load_config(ctx));
    const struct config *cfg = ctx->cfg;
    if (!csv && fs_exists(cfg->ingest.csv)) csv = cfg->ingest.csv;
    const char *root = images ? images : cfg->ingest.images_root;
    TRY(night_scan(ctx->pos[0], csv, root, cfg, &scan));
    for (int i = 0; i < plan->n_stages; i++) TRY(decide(&plan->stages[i], &scan, csv, images, cfg, &dec[i]));
    if (dist_rank() != 0) goto fail;
    if (emit) {
        /* one line per stage: name cmd run|skip ranks cpus gpus time sets(;) args... */
        if (cfg_path[0]) printf("#config" SEP "%s\n", cfg_path);
        for (int i = 0; i < plan->n_stages; i++) {
            const struct plan_stage *st = &plan->stages[i];
            printf("%s" SEP "%s" SEP "%s" SEP "%d" SEP "%d" SEP "%d" SEP "%s" SEP, st->name, st->command,
                   dec[i].run ? "run" : "skip", st->ranks, st->cpus_per_rank, st->gpus_per_rank, st->time);
            print_list(&st->sets, ";");
            for (int a = 0; a < st->args.count; a++) printf(SEP "%s", st->args.items[a]);
            for (int a = 0; a < dec[i].extra.count; a++) printf(SEP "%s", dec[i].extra.items[a]);
            printf("\n");
        }
        goto fail;
    }
    printf("nightly plan %s (%s) for %s%s\n", plan->name, plan_path, ctx->pos[0],
           scan.catalog_exists ? "" : " (does not exist yet)");
    if (scan.catalog_exists)
        printf("catalog: %lld products (%lld active), %lld dirty, features %s (%lld valid), %d heads, "
               "last predictions %s, last night %s\n", (long long)scan.rows, (long long)scan.active,
               (long long)scan.dirty_now, scan.have_features ? "complete" : "missing",
               (long long)scan.valid_features, scan.n_heads, scan.last_predictions[0] ? scan.last_predictions : "none",
               scan.last_night[0] ? scan.last_night : "none");
    if (csv) printf("csv: %s (%lld records), images under %s\n", csv, (long long)scan.csv_rows, root);
    for (int i = 0; i < plan->n_stages; i++) {
        const struct plan_stage *st = &plan->stages[i];
        printf("%d. %s: %s\n", i + 1, st->name, dec[i].why);
        printf("   assort %s", st->command);
        for (int s = 0; s < st->sets.count; s++) printf(" --set %s", st->sets.items[s]);
        for (int a = 0; a < st->args.count; a++) printf(" %s", st->args.items[a]);
        for (int a = 0; a < dec[i].extra.count; a++) printf(" %s", dec[i].extra.items[a]);
        printf(" %s\n   [%s; %d rank%s x %d cpu%s, %d gpu per rank, time %s]\n", ctx->pos[0],
               dec[i].run ? "run" : "skip", st->ranks, st->ranks == 1 ? "" : "s", st->cpus_per_rank,
               st->cpus_per_rank == 1 ? "" : "s", st->gpus_per_rank, st->time);
    }
    printf("nothing was written\n");
fail:
    for (int i = 0; i < PLAN_MAX_STAGES; i++) {
        for (int a = 0; a < dec[i].extra.count; a++) free(dec[i].extra.items[a]);
        free(dec[i].extra.items);
    }
    if (ctx->config_path == cfg_path) ctx->config_path = NULL;
    plan_free(plan);
    return rc;
}

static void fmt(char *out, size_t n, double v) { snprintf(out, n, isfinite(v) ? "%.4f" : "n/a", v); }

static int run_diff(struct cli_ctx *ctx) {
    int rc = ST_OK;
    struct night_diff d;
    TRY(cli_load_config(ctx));
    TRY(nightly_diff(ctx->pos[0], ctx->cfg, &d));
    char a[32], b[32];
    if (dist_rank() == 0) {
        printf("nightly %s: predictions %s vs %s\n", d.run_id, d.predictions,
               d.prev_predictions[0] ? d.prev_predictions : "none (first night)");
        for (int L = 0; L < d.n_levels; L++) {
            fmt(a, sizeof a, d.levels[L].class_tv), fmt(b, sizeof b, d.levels[L].class_psi);
            printf("%s: %lld classified, %lld changed category, %lld new flags, class TV %s, PSI %s\n",
                   d.levels[L].name, (long long)d.levels[L].classified, (long long)d.levels[L].changed,
                   (long long)d.levels[L].new_review, a, b);
        }
        fmt(a, sizeof a, d.feature_cosine_shift), fmt(b, sizeof b, d.feature_psi);
        printf("duplicate groups: %lld (%lld new)\n", (long long)d.groups, (long long)d.new_groups);
        printf("features: %lld rows, mean-embedding cosine shift %s, projection PSI %s\n",
               (long long)d.feature_rows, a, b);
        printf("drift: %s (threshold nightly.drift_alert = %g)\n", d.alert ? "ALERT" : "ok", d.drift_alert);
    }
    if (d.alert)
        log_warn("nightly", "drift above nightly.drift_alert = %g; see /nightly/%s in %s", d.drift_alert,
                 d.run_id, ctx->pos[0]);
fail:
    return rc;
}

int cmd_nightly(int argc, char **argv) {
    int rc = ST_OK;
    struct cli_ctx ctx = {0};
    const char *plan = NULL, *csv = NULL, *images = NULL, *emit = NULL;
    int diff = 0;
    struct cli_opt opts[] = {
        {"plan", 0, CLI_STR, &plan, "FILE", "print what the pipeline in FILE would run and why; writes nothing"},
        {"csv", 0, CLI_STR, &csv, "FILE", "tonight's product CSV (default ingest.csv)"},
        {"images", 0, CLI_STR, &images, "DIR", "tonight's images root (default ingest.images_root)"},
        {"emit", 0, CLI_STR, &emit, "tsv", "with --plan: machine-readable decisions for slurm/nightly.sh"},
        {"diff", 0, CLI_FLAG, &diff, NULL, "diff and drift against the previous night into /nightly/<run>"},
        CLI_OPT_END};
    rc = cli_parse(&ctx, &self, opts, argc, argv, 1, 1);
    if (rc == CLI_HELP_SHOWN) return ST_OK;
    TRY(rc);
    REQUIRE(!!plan + diff == 1, ST_USAGE, "nightly: give exactly one of --plan FILE or --diff");
    REQUIRE(!emit || !strcmp(emit, "tsv"), ST_USAGE, "nightly: --emit %s is not known; use --emit tsv", emit);
    if (plan) TRY(run_plan(&ctx, plan, csv, images, emit));
    else TRY(run_diff(&ctx));
fail:
    cli_fail_fast(&self, rc);
    cli_ctx_free(&ctx);
    return rc;
}
