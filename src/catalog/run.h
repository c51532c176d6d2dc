/* run.h - run records under /runs/<run-id>.
 *
 * Every command that produces results records a run: the command line, the
 * resolved config (YAML) and its hash, the assort version and git commit,
 * library versions, ranks, timings per stage and metrics (a JSON object).
 * The group is marked complete when the run ends successfully.
 */
#ifndef ASSORT_RUN_H
#define ASSORT_RUN_H

#include "catalog/catalog.h"
#include "config/config.h"

#define RUN_MAX_TIMINGS 32

struct run_record {
    char id[96];              /* "20261123-234501-ingest-1a2b" */
    char command[64];
    double t_start;           /* time_now() at begin */
    char started[40];         /* ISO 8601 */
    int n_timings;
    char timing_names[RUN_MAX_TIMINGS][48];
    double timing_seconds[RUN_MAX_TIMINGS];
    char *metrics_json;       /* owned; "{}" until set */
};

/* Fills the record (id made on rank 0 and broadcast) and writes the group
 * /runs/<id> with the config, versions and ranks (not yet complete). */
int run_begin(struct catalog *c, const char *command, const struct config *cfg,
              struct run_record *run);

/* Adds a stage timing (seconds). Local: call with the same values on every
 * rank (e.g. after a max-reduction). */
void run_add_timing(struct run_record *run, const char *name, double seconds);

/* Replaces the metrics JSON (copied). Local. */
int run_set_metrics(struct run_record *run, const char *json);

/* Writes timings, metrics, wall time and `finished`, and marks the run
 * complete. Frees what the record owns. */
int run_end(struct catalog *c, struct run_record *run);

/* Frees what the record owns without writing. */
void run_free(struct run_record *run);

#endif
