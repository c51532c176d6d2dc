#include "signals.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "dist/dist.h"
#include "status.h"

static volatile sig_atomic_t g_signo = 0;
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
    int64_t v = g_signo != 0;
    int rc = dist_size() > 1 ? dist_allreduce_max_i64(&v, 1) : ST_OK;
    *stop = v != 0;
    return rc;
}

void signals_request_stop(int signo) { g_signo = signo; }
