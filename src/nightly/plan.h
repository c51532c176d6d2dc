/* plan.h - the nightly pipeline as declared in jobs/nightly.yaml.
 *
 * The file lists stages in order (ingest -> extract -> train -> similarity ->
 * classify -> nightly diff -> report); each names the assort command it runs,
 * when it runs, its extra arguments and --set overrides, its Slurm resources
 * and (documentation only) its inputs and outputs. Layout and keys:
 * docs/nightly.md. Parsing is strict: an unknown key, a wrong type or a value
 * out of range is an error naming file:line:column and the fix.
 */
#ifndef ASSORT_NIGHTLY_PLAN_H
#define ASSORT_NIGHTLY_PLAN_H

#include "config/config.h"

#define PLAN_MAX_STAGES 16

/* When a stage runs. */
enum plan_when {
    PLAN_ALWAYS = 0,  /* every night */
    PLAN_CHANGED = 1, /* only when the night brings new/changed/removed products,
                         or when the stage's own output is missing */
};

struct plan_stage {
    char *name;            /* unique stage name ("ingest", "diff", ...) */
    char *command;         /* assort subcommand ("ingest", "nightly", ...) */
    enum plan_when when;
    struct str_list args;  /* extra arguments before the catalog */
    struct str_list sets;  /* --set overrides "key=value" */
    int ranks;             /* MPI ranks (Slurm tasks), >= 1 */
    int cpus_per_rank;     /* >= 1 */
    int gpus_per_rank;     /* 0 = CPU job; >= 1 uses the stage's -gpu script */
    char *time;            /* Slurm time limit, "HH:MM:SS" or minutes */
    struct str_list inputs;
    struct str_list outputs;
    int line;              /* 1-based line of the stage in the file */
};

struct nightly_plan {
    char *file;            /* the YAML path as given */
    char *name;            /* pipeline name */
    char *config;          /* config file for every stage ("" = none) */
    int n_stages;
    struct plan_stage stages[PLAN_MAX_STAGES];
};

/* Parses `path`. On success *out is owned by the caller (plan_free). Errors:
 * ST_USAGE with "file:line:col: what; fix" (unknown key, wrong type, missing
 * name/command, duplicate stage, bad resources), ST_ERR when unreadable. */
int plan_load(const char *path, struct nightly_plan **out);

/* The stage named `name`, or NULL. */
const struct plan_stage *plan_find(const struct nightly_plan *p, const char *name);

void plan_free(struct nightly_plan *p);

#endif
