/* lock.c - one writer at a time per catalog (see lock.h). */
#define _POSIX_C_SOURCE 200809L
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/signals.h"
#include "util/status.h"

#define LOCK_POLL_MS 200
#define LOCK_LOG_EVERY_S 60

/* The holder's line from the lock file ("another process" when empty: it
 * has the lock but has not written its line yet). */
static void holder(int fd, char *out, size_t out_bytes) {
    ssize_t n = pread(fd, out, out_bytes - 1, 0);
    if (n < 0) n = 0;
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    if (!out[0]) snprintf(out, out_bytes, "another process");
}

/* -1: no limit. */
static double wait_limit_s(void) {
    const char *v = getenv("ASSORT_LOCK_WAIT_S");
    if (!v || !*v) return -1;
    char *end = NULL;
    double s = strtod(v, &end);
    return end && *end == '\0' && s >= 0 ? s : -1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Writes "stage S, pid P on host H since T" into the locked file. */
static void write_holder(int fd, const char *stage) {
    char host[256] = "?", ts[40], line[512];
    gethostname(host, sizeof host - 1);
    time_stamp(ts, sizeof ts, 1);
    int n = snprintf(line, sizeof line, "stage %s, pid %ld on host %s since %s\n", stage,
                     (long)getpid(), host, ts);
    if (ftruncate(fd, 0) == 0 && n > 0) {
        ssize_t w = pwrite(fd, line, (size_t)n, 0);
        (void)w; /* the line only informs the waiting side */
    }
}

int catalog_lock_take(const char *path, const char *stage, int *fd) {
    char lock[4200], who[512];
    *fd = -1;
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
        return err_set(ST_USAGE, "%s: path too long", path);
    int f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (f < 0)
        return err_set(ST_ERR, "%s: cannot open the catalog's writer lock (%s); the directory "
                       "must be writable", lock, strerror(errno));
    double limit = wait_limit_s(), start = now_s(), next_log = 0;
    int waited = 0;
    for (;;) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        if (fcntl(f, F_SETLK, &fl) == 0) break;
        if (errno != EACCES && errno != EAGAIN && errno != EINTR) {
            log_warn(stage, "%s: the filesystem does not lock files (%s): going on without the "
                     "writer lock; do not run two writing stages on this catalog at once",
                     lock, strerror(errno));
            close(f);
            return ST_OK;
        }
        double waited_s = now_s() - start;
        holder(f, who, sizeof who);
        int signo = 0;
        if (signals_stop_requested(&signo)) {
            close(f);
            return err_set(ST_INTERRUPTED, "%s while waiting for the writer lock %s (held by %s): "
                           "nothing was written; rerun", signals_name(signo), lock, who);
        }
        if (limit >= 0 && waited_s >= limit) {
            close(f);
            return err_set(ST_ERR, "%s is being written by another assort (%s; lock %s): gave up "
                           "after %.0f s (ASSORT_LOCK_WAIT_S=%g); rerun when it has finished",
                           path, who, lock, waited_s, limit);
        }
        if (waited_s >= next_log) {
            log_info(stage, "%s is being written by another assort (%s): waiting for the lock %s "
                     "(%.0f s so far)", path, who, lock, waited_s);
            next_log = waited_s + LOCK_LOG_EVERY_S;
        }
        waited = 1;
        struct timespec ts = {0, LOCK_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (waited) log_info(stage, "got the writer lock %s after %.0f s", lock, now_s() - start);
    write_holder(f, stage);
    *fd = f;
    return ST_OK;
}

void catalog_lock_drop(int *fd) {
    if (*fd < 0) return;
    /* leave an empty file: a waiting process must not name a gone holder */
    int r = ftruncate(*fd, 0);
    (void)r; /* the line only informs */
    close(*fd); /* releases the lock */
    *fd = -1;
}
