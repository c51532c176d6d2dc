/* safepath.c - images-root confinement (see safepath.h). */
#define _GNU_SOURCE /* realpath(), O_PATH, syscall() */
#include "ingest/safepath.h"

#include "util/check.h"
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int safepath_root_init(struct safepath_root *r, const char *root, int allow_outside) {
    struct stat st;
    memset(r, 0, sizeof *r);
    r->dirfd = -1;
    r->allow_outside = allow_outside;
    r->real = realpath(root, NULL);
    if (!r->real) return err_set(ST_USAGE, "images root %s: %s; set the images root to an existing directory",
                                 root, strerror(errno));
    if (stat(r->real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        safepath_root_free(r);
        return err_set(ST_USAGE, "images root %s is not a directory", root);
    }
    r->real_bytes = strlen(r->real);
    r->dirfd = open(r->real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd < 0) {
        int e = errno;
        safepath_root_free(r);
        return err_set(ST_USAGE, "images root %s: %s", root, strerror(e));
    }
    return ST_OK;
}

void safepath_root_free(struct safepath_root *r) {
    free(r->real);
    r->real = NULL;
    r->real_bytes = 0;
    if (r->dirfd >= 0) close(r->dirfd);
    r->dirfd = -1;
}

/* 1 when the '..' components of rel never climb above its start. */
static int stays_inside(const char *rel) {
    long depth = 0;
    const char *p = rel;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0) return 0;
        } else if (!(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n;
    }
    return 1;
}

static int inside_root(const struct safepath_root *r, const char *real) {
    if (r->real_bytes == 1 && r->real[0] == '/') return 1;
    return strncmp(real, r->real, r->real_bytes) == 0 && real[r->real_bytes] == '/';
}

int safepath_resolve(const struct safepath_root *r, const char *rel, char **out) {
    int rc = ST_OK;
    char *joined = NULL, *real = NULL;
    struct stat st;
    *out = NULL;
    REQUIRE(rel[0] != '\0', ST_DATA, "empty image path");
    if (!r->allow_outside) {
        REQUIRE(rel[0] != '/', ST_DATA, "absolute image path");
        REQUIRE(stays_inside(rel), ST_DATA, "path escapes the images root");
    }
    if (rel[0] == '/') {
        TRY_ALLOC(joined = strdup(rel));
    } else {
        size_t n = r->real_bytes + 1 + strlen(rel) + 1;
        TRY_ALLOC(joined = malloc(n));
        snprintf(joined, n, "%s/%s", r->real, rel);
    }
    real = realpath(joined, NULL);
    if (!real) {
        if (errno == ENOENT || errno == ENOTDIR) FAIL(ST_DATA, "missing file");
        FAIL(ST_DATA, "unreadable path (%s)", strerror(errno));
    }
    if (!r->allow_outside) REQUIRE(inside_root(r, real), ST_DATA, "path escapes the images root");
    REQUIRE(stat(real, &st) == 0, ST_DATA, "missing file");
    REQUIRE(S_ISREG(st.st_mode), ST_DATA, "not a regular file");
    *out = real;
    real = NULL;
fail:
    free(joined);
    free(real);
    return rc;
}

/* The opened file: a regular file, read whole; closes fd. */
static int read_opened(int fd, char **data, size_t *nbytes) {
    int rc = ST_OK;
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0, ST_DATA, "unreadable file");
    REQUIRE(S_ISREG(st.st_mode), ST_DATA, "not a regular file");
    rc = fs_read_fd(fd, (size_t)st.st_size, data, nbytes);
    if (rc == ST_DATA) rc = err_set(ST_DATA, "unreadable file"); /* the reject reason */
fail:
    close(fd);
    return rc;
}

/* safepath_resolve's way: realpath, the root check, then an open of the
 * resolved path relative to the root that follows no symlink (the path has
 * none left), so a component swapped for a symlink after the check fails. */
static int read_resolved(const struct safepath_root *r, const char *rel, char **data,
                         size_t *nbytes) {
    int rc = ST_OK, fd = -1;
    char *real = NULL;
    TRY(safepath_resolve(r, rel, &real));
    if (!r->allow_outside && !(r->real_bytes == 1 && r->real[0] == '/')) {
        struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
        fd = (int)syscall(SYS_openat2, r->dirfd, real + r->real_bytes + 1, &how, sizeof how);
        if (fd < 0 && errno == ENOSYS) fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    } else {
        fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    }
    if (fd < 0) {
        if (errno == ELOOP || errno == EXDEV) FAIL(ST_DATA, "path escapes the images root");
        if (errno == ENOENT || errno == ENOTDIR) FAIL(ST_DATA, "missing file");
        FAIL(ST_DATA, "unreadable file");
    }
    rc = read_opened(fd, data, nbytes);
fail:
    free(real);
    return rc;
}

int safepath_read(const struct safepath_root *r, const char *rel, char **data, size_t *nbytes) {
    int rc = ST_OK;
    *data = NULL;
    *nbytes = 0;
    REQUIRE(rel[0] != '\0', ST_DATA, "empty image path");
    if (r->allow_outside || rel[0] == '/') return read_resolved(r, rel, data, nbytes);
    REQUIRE(stays_inside(rel), ST_DATA, "path escapes the images root");
    /* O_NONBLOCK: a FIFO in the images folder must not hang the open (it is
     * then refused as not a regular file). */
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, r->dirfd, rel, &how, sizeof how);
    if (fd >= 0) return read_opened(fd, data, nbytes);
    switch (errno) {
    case ENOENT:
    case ENOTDIR: FAIL(ST_DATA, "missing file");
    case EXDEV:  /* a symlink out, or an absolute one: let realpath decide */
    case ELOOP:
    case ENOSYS: /* no openat2 (Linux < 5.6) */
    case EPERM:  /* seccomp filters that refuse unknown syscalls */
    case EACCES: /* say which part is unreadable, as safepath_resolve does */
        return read_resolved(r, rel, data, nbytes);
    default: FAIL(ST_DATA, "unreadable path (%s)", strerror(errno));
    }
fail:
    return rc;
}
