#include "signals.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dist/dist.h"
#include "fault.h"
#include "log.h"
#include "status.h"

static volatile sig_atomic_t g_signo = 0;
static int g_agreed = 0; /* the signal number agreed at the last signals_stop_agreed */
static int g_installed = 0;

static void on_signal(int signo) { g_signo = signo; }

void signals_install(void) {
    if (g_installed) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    g_installed = 1;
}

int signals_stop_requested(int *signo) {
    if (signo) *signo = (int)g_signo;
    return g_signo != 0;
}

int signals_stop_agreed(int *stop) {
    /* the largest signal number over the ranks: every rank names the same one */
    int64_t v = g_signo;
    int rc = dist_size() > 1 ? dist_allreduce_max_i64(&v, 1) : ST_OK;
    if (rc == ST_OK) g_agreed = (int)v;
    *stop = v != 0;
    return rc;
}

int signals_agreed_signo(void) { return g_agreed; }

const char *signals_name(int signo) {
    switch (signo) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case 0: return "no signal";
    default: return "a signal";
    }
}

int signals_finish(const char *stage, int rc) {
    if (rc != ST_OK) return rc;
    int stop = 0;
    /* tests only: a signal after the stage's work, i.e. after its last stop check */
    if (fault_armed()) {
        char point[80];
        snprintf(point, sizeof point, "%s.end", stage);
        int frc = dist_agree(fault_point(point));
        if (frc != ST_OK) return frc;
    }
    int arc = signals_stop_agreed(&stop);
    if (arc != ST_OK) return arc;
    if (stop && dist_rank() == 0)
        log_warn(stage, "%s received after the stage's last stop check: the stage had already "
                 "finished its work and committed the results, so the signal was ignored "
                 "(exit 0; nothing to resume, do not rerun)", signals_name(g_agreed));
    return ST_OK;
}

void signals_request_stop(int signo) { g_signo = signo; }
