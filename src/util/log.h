/* log.h - cluster-job logging and progress lines.
 *
 * Every line carries a local time and a stage: "2026-11-23 23:40:01 [ingest] ...".
 * Rank 0 speaks by default; with verbose on, every rank speaks and lines are
 * prefixed "[rK]". Warnings about a single item are printed by whichever rank
 * saw it. All log output goes to stderr; command results go to stdout.
 */
#ifndef ASSORT_LOG_H
#define ASSORT_LOG_H

#include <stdint.h>

/* Sets the rank used for prefixes and who speaks. Safe to call again. */
void log_init(int rank, int size, int verbose);
int log_rank(void);
int log_verbose(void);

/* Seconds between progress lines when stderr is not a terminal (Slurm logs). */
void log_set_progress_interval(double seconds);

/* Rank 0 (or every rank with verbose). */
void log_info(const char *stage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Only with verbose, every rank. */
void log_debug(const char *stage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Any rank that calls it; always prefixed with the rank when size > 1. */
void log_warn(const char *stage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress of a long stage: a live "\r" line with rate and ETA on a terminal,
 * a plain line every interval seconds otherwise. Only rank 0 prints; `done`
 * and `total` are whatever the caller counts (usually a global estimate). */
struct progress {
    const char *stage;
    const char *unit;     /* "images", "batches", ... */
    int64_t total;        /* units expected; <= 0 when unknown */
    int64_t done;
    double t_start;       /* seconds, monotonic */
    double t_last;        /* when the last line was printed */
    int live;             /* stderr is a terminal */
};

void progress_begin(struct progress *p, const char *stage, const char *unit, int64_t total);
void progress_update(struct progress *p, int64_t done);
/* Prints the final line (count, wall time, rate). */
void progress_end(struct progress *p);

/* Monotonic seconds. */
double time_now(void);
/* Local time as "YYYY-MM-DD HH:MM:SS" (or ISO 8601 with 'T' when iso != 0). */
void time_stamp(char *out, int out_size, int iso);

#endif
