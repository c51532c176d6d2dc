/* status.h - status codes and the per-thread error message.
 *
 * Library code never exits: a function that fails records one line with
 * err_set() and returns the status; callers may add context with err_wrap()
 * and propagate it. Only main() turns a status into an exit code.
 */
#ifndef ASSORT_STATUS_H
#define ASSORT_STATUS_H

#include <stdarg.h>

/* Status codes double as the process exit codes documented in README.md. */
enum assort_status {
    ST_OK = 0,         /* success */
    ST_ERR = 1,        /* other failure (I/O, library, internal) */
    ST_USAGE = 2,      /* bad command line or configuration */
    ST_DATA = 3,       /* bad input data (CSV, images, HDF5 file, weights) */
    ST_INTERRUPTED = 4 /* stopped by a signal after a checkpoint: rerun resumes */
};

/* Records the error message (printf-style) and returns `code`, so that
 * `return err_set(ST_DATA, "...")` both reports and propagates. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("while X: <old msg>"). */
int err_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" when none). */
const char *err_msg(void);

/* Forgets the last message. */
void err_clear(void);

/* Human name of a status code ("usage error", ...). */
const char *status_name(int code);

#endif
