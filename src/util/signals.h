/* signals.h - checkpoint requests from SIGTERM and SIGUSR1.
 *
 * Slurm sends SIGUSR1 (--signal=B:USR1@N, forwarded by the batch script) or
 * SIGTERM before a time limit or preemption. The handler only sets a flag;
 * long stages poll it at batch boundaries through signals_stop_agreed(),
 * which every rank calls collectively so all ranks stop at the same batch,
 * write their checkpoint, and return ST_INTERRUPTED (exit 4: "rerun to
 * resume").
 */
#ifndef ASSORT_SIGNALS_H
#define ASSORT_SIGNALS_H

/* Installs the SIGTERM/SIGUSR1 handlers (idempotent). */
void signals_install(void);

/* Local: 1 once a stop signal arrived on this rank (the signal number in
 * *signo when not NULL). */
int signals_stop_requested(int *signo);

/* Collective: 1 on every rank when any rank has received a stop signal.
 * Returns a status; the answer goes to *stop. */
int signals_stop_agreed(int *stop);

/* The signal number agreed at the last signals_stop_agreed(): the largest
 * over the ranks (0: none), so that every rank names the same signal even
 * when only one rank received it. */
int signals_agreed_signo(void);

/* "SIGTERM", "SIGUSR1", "no signal" or "a signal"; static strings. */
const char *signals_name(int signo);

/* Collective, called by main once a command returned `rc` on every rank.
 * When rc is ST_OK and a stop signal arrived on any rank after the stage's
 * last stop check, the stage has finished and committed its results: the
 * signal is ignored, rank 0 logs a warning that says so, and ST_OK is
 * returned (exit 0; a requeue wrapper must not rerun the stage). Any other
 * rc is returned unchanged without communication. With ASSORT_FAULT set the
 * fault point "<stage>.end" is checked first (tests deliver a late signal
 * there). */
int signals_finish(const char *stage, int rc);

/* For tests: pretend a signal arrived. */
void signals_request_stop(int signo);

#endif
