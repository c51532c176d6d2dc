#include "fault.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "status.h"

#define FAULT_MAX 16

static struct {
    int parsed, n;
    struct { char point[64]; int rank; int kill; long nth; long calls; } f[FAULT_MAX];
} g;

static void fault_parse(void) {
    g.parsed = 1;
    const char *env = getenv("ASSORT_FAULT");
    if (!env || !*env) return;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", env);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && g.n < FAULT_MAX;
         tok = strtok_r(NULL, ",", &save)) {
        int kill = 0;
        if (!strncmp(tok, "kill:", 5)) { kill = 1; tok += 5; }
        else if (!strncmp(tok, "fail:", 5)) tok += 5;
        char *at = strrchr(tok, '@');
        if (!at) continue;
        *at = '\0';
        long nth = 0;
        char *hash = strchr(tok, '#');
        if (hash) { *hash = '\0'; nth = strtol(hash + 1, NULL, 10); }
        snprintf(g.f[g.n].point, sizeof g.f[g.n].point, "%s", tok);
        g.f[g.n].rank = !strcmp(at + 1, "*") ? -1 : atoi(at + 1);
        g.f[g.n].kill = kill;
        g.f[g.n].nth = nth;
        g.f[g.n].calls = 0;
        g.n++;
    }
}

int fault_point(const char *point) {
    if (!g.parsed) fault_parse();
    for (int i = 0; i < g.n; i++) {
        if (strcmp(g.f[i].point, point)) continue;
        if (g.f[i].rank >= 0 && g.f[i].rank != log_rank()) continue;
        g.f[i].calls++;
        if (g.f[i].nth && g.f[i].calls != g.f[i].nth) continue;
        if (g.f[i].kill) {
            fprintf(stderr, "assort: [r%d] injected crash (SIGKILL) at %s\n", log_rank(), point);
            fflush(stderr);
            raise(SIGKILL);
        }
        return err_set(ST_ERR, "injected fault at %s on rank %d (ASSORT_FAULT)", point, log_rank());
    }
    return ST_OK;
}
