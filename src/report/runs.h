/* runs.h - reading run records (/runs/<run-id>) for `assort runs` and the report.
 *
 * A run record is written by every command that produces results (see
 * catalog/run.h and docs/catalog-format.md). Here they are read back, listed
 * with a few key metrics per command, and compared: the config difference
 * (the two resolved YAMLs flattened to dotted keys) and the metric
 * difference (the metrics JSON flattened to dotted keys, numbers with their
 * delta).
 */
#ifndef ASSORT_REPORT_RUNS_H
#define ASSORT_REPORT_RUNS_H

#include <stdint.h>
#include <stdio.h>

#include "catalog/catalog.h"
#include "report/json.h"

/* One run record as read from the catalog. Strings are malloc'ed ("" when the
 * attribute is missing); owned by the struct (runs_free). */
struct run_info {
    char *id, *command, *started, *finished, *config_hash, *experiment;
    char *assort_version, *git_commit, *host, *library_versions;
    int64_t ranks, seed;
    double wall_seconds;       /* -1 when missing */
    int complete;              /* 1 when the group carries complete = 1 */
    char *config_yaml;         /* the resolved config ("" when missing) */
    char *metrics_text;        /* metrics_json as stored ("{}" when missing) */
    struct json *metrics;      /* parsed metrics; NULL when they do not parse */
    char *metrics_error;       /* why they did not parse (NULL when they did) */
    int n_timings;
    char **timing_names;       /* (n_timings) "time_<stage>" attribute names without "time_" */
    double *timing_seconds;    /* (n_timings) */
};

/* Reads every run under /runs (complete or not), sorted by id (= by start
 * time, ids begin with YYYYMMDD-HHMMSS). Collective over the catalog's
 * communicator (every rank gets the same list). *runs is malloc'ed; free
 * with runs_free. A catalog without /runs gives *count = 0. */
int runs_load(struct catalog *c, struct run_info **runs, int *count);
void runs_free(struct run_info *runs, int count);

/* The run whose id equals `key`, or else the only one whose id contains
 * `key`. NULL with ST_USAGE set (message lists the candidates) otherwise. */
const struct run_info *runs_find(const struct run_info *runs, int count, const char *key);

/* The newest complete run of `command` (NULL when there is none). */
const struct run_info *runs_latest(const struct run_info *runs, int count, const char *command);

/* A short summary of a run's key metrics (e.g. "article_type top-1 0.871,
 * master_category top-1 0.982" for train) into out. */
void runs_key_metrics(const struct run_info *r, char *out, size_t out_size);

/* Writes the aligned table (one line per run) or, with json != 0, a JSON
 * array of objects (id, command, started, finished, complete, config_hash,
 * experiment, wall_seconds, key_metrics, metrics (the stored object)). */
int runs_print(FILE *f, const struct run_info *runs, int count, int json);

/* Writes the comparison of runs a and b: the config lines that differ
 * ("key: A-value -> B-value", keys only in one side marked "(absent)"), then
 * the flattened metrics side by side with B - A for numbers. Metric keys
 * whose values are equal are counted, not listed. */
int runs_compare(FILE *f, const struct run_info *a, const struct run_info *b);

/* Flattens a resolved config YAML (as `assort config` prints it: block
 * mappings indented by two spaces, flow lists) to "section.key" / value
 * pairs. *keys and *values are malloc'ed arrays of malloc'ed strings; free
 * with runs_pairs_free. Local. */
int runs_yaml_flatten(const char *yaml, char ***keys, char ***values, int *count);
void runs_pairs_free(char **keys, char **values, int count);

#endif
