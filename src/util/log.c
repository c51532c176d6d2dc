#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int g_rank = 0;
static int g_size = 1;
static int g_verbose = 0;
static double g_progress_interval = 10.0;

void log_init(int rank, int size, int verbose) {
    g_rank = rank;
    g_size = size;
    g_verbose = verbose;
}

int log_rank(void) { return g_rank; }
int log_verbose(void) { return g_verbose; }

void log_set_progress_interval(double seconds) {
    if (seconds > 0) g_progress_interval = seconds;
}

double time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void time_stamp(char *out, int out_size, int iso) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, (size_t)out_size, iso ? "%Y-%m-%dT%H:%M:%S%z" : "%Y-%m-%d %H:%M:%S", &tm);
}

static void vlog(int with_rank, const char *stage, const char *level, const char *fmt, va_list ap) {
    char ts[32], msg[4096];
    time_stamp(ts, sizeof ts, 0);
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (with_rank)
        fprintf(stderr, "%s [r%d] [%s] %s%s\n", ts, g_rank, stage, level, msg);
    else
        fprintf(stderr, "%s [%s] %s%s\n", ts, stage, level, msg);
    fflush(stderr);
}

void log_info(const char *stage, const char *fmt, ...) {
    if (g_rank != 0 && !g_verbose) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(g_verbose && g_size > 1, stage, "", fmt, ap);
    va_end(ap);
}

void log_debug(const char *stage, const char *fmt, ...) {
    if (!g_verbose) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(g_size > 1, stage, "", fmt, ap);
    va_end(ap);
}

void log_warn(const char *stage, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(g_size > 1, stage, "warning: ", fmt, ap);
    va_end(ap);
}

static void fmt_duration(double s, char *out, size_t n) {
    if (s < 0 || s > 1e7) { snprintf(out, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(out, n, "%lds", t);
}

static void progress_print(struct progress *p, int final) {
    double now = time_now(), el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0.0;
    char eta[32] = "", elapsed[32];
    fmt_duration(el, elapsed, sizeof elapsed);
    if (!final && p->total > 0 && rate > 0) {
        char d[24];
        fmt_duration((double)(p->total - p->done) / rate, d, sizeof d);
        snprintf(eta, sizeof eta, ", ETA %s", d);
    }
    char line[256];
    if (p->total > 0)
        snprintf(line, sizeof line, "%lld/%lld %s (%.1f%%), %.1f %s/s, %s elapsed%s",
                 (long long)p->done, (long long)p->total, p->unit,
                 100.0 * (double)p->done / (double)p->total, rate, p->unit, elapsed, eta);
    else
        snprintf(line, sizeof line, "%lld %s, %.1f %s/s, %s elapsed", (long long)p->done,
                 p->unit, rate, p->unit, elapsed);
    if (p->live && !final) {
        fprintf(stderr, "\r[%s] %s\033[K", p->stage, line);
    } else {
        char ts[32];
        time_stamp(ts, sizeof ts, 0);
        if (p->live) fprintf(stderr, "\r\033[K");
        fprintf(stderr, "%s [%s] %s%s\n", ts, p->stage, final ? "done: " : "", line);
    }
    fflush(stderr);
    p->t_last = now;
}

void progress_begin(struct progress *p, const char *stage, const char *unit, int64_t total) {
    p->stage = stage;
    p->unit = unit;
    p->total = total;
    p->done = 0;
    p->t_start = p->t_last = time_now();
    p->live = isatty(STDERR_FILENO) && g_rank == 0;
}

void progress_update(struct progress *p, int64_t done) {
    p->done = done;
    if (g_rank != 0) return;
    double wait = p->live ? 0.25 : g_progress_interval;
    if (time_now() - p->t_last >= wait) progress_print(p, 0);
}

void progress_end(struct progress *p) {
    if (g_rank == 0) progress_print(p, 1);
}
