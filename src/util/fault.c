#include "fault.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "status.h"

#define FAULT_MAX 16

enum { FAULT_FAIL, FAULT_KILL, FAULT_TERM, FAULT_USR1 };

static struct {
    int parsed, n;
    struct { char point[64]; int rank; int action; long nth; long calls; } f[FAULT_MAX];
} g;

static void fault_parse(void) {
    g.parsed = 1;
    const char *env = getenv("ASSORT_FAULT");
    if (!env || !*env) return;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", env);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && g.n < FAULT_MAX;
         tok = strtok_r(NULL, ",", &save)) {
        int action = FAULT_FAIL;
        if (!strncmp(tok, "kill:", 5)) { action = FAULT_KILL; tok += 5; }
        else if (!strncmp(tok, "term:", 5)) { action = FAULT_TERM; tok += 5; }
        else if (!strncmp(tok, "usr1:", 5)) { action = FAULT_USR1; tok += 5; }
        else if (!strncmp(tok, "fail:", 5)) tok += 5;
        char *at = strrchr(tok, '@');
        if (!at) continue;
        *at = '\0';
        long nth = 0;
        char *hash = strchr(tok, '#');
        if (hash) { *hash = '\0'; nth = strtol(hash + 1, NULL, 10); }
        snprintf(g.f[g.n].point, sizeof g.f[g.n].point, "%s", tok);
        g.f[g.n].rank = !strcmp(at + 1, "*") ? -1 : atoi(at + 1);
        g.f[g.n].action = action;
        g.f[g.n].nth = nth;
        g.f[g.n].calls = 0;
        g.n++;
    }
}

int fault_armed(void) {
    if (!g.parsed) fault_parse();
    return g.n > 0;
}

int fault_point(const char *point) {
    if (!g.parsed) fault_parse();
    for (int i = 0; i < g.n; i++) {
        if (strcmp(g.f[i].point, point)) continue;
        if (g.f[i].rank >= 0 && g.f[i].rank != log_rank()) continue;
        g.f[i].calls++;
        if (g.f[i].nth && g.f[i].calls != g.f[i].nth) continue;
        if (g.f[i].action == FAULT_KILL) {
            fprintf(stderr, "assort: [r%d] injected crash (SIGKILL) at %s\n", log_rank(), point);
            fflush(stderr);
            raise(SIGKILL);
        }
        if (g.f[i].action == FAULT_TERM || g.f[i].action == FAULT_USR1) {
            int sig = g.f[i].action == FAULT_TERM ? SIGTERM : SIGUSR1;
            fprintf(stderr, "assort: [r%d] injected %s at %s\n", log_rank(),
                    sig == SIGTERM ? "SIGTERM" : "SIGUSR1", point);
            fflush(stderr);
            raise(sig);
            return ST_OK;
        }
        return err_set(ST_ERR, "injected fault at %s on rank %d (ASSORT_FAULT)", point, log_rank());
    }
    return ST_OK;
}
