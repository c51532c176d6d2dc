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

/* For tests: pretend a signal arrived. */
void signals_request_stop(int signo);

#endif
