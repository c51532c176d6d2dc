/* safepath.c - images-root confinement (see safepath.h). */
#define _XOPEN_SOURCE 700 /* realpath() */
#include "ingest/safepath.h"

#include "util/check.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int safepath_root_init(struct safepath_root *r, const char *root, int allow_outside) {
    struct stat st;
    memset(r, 0, sizeof *r);
    r->allow_outside = allow_outside;
    r->real = realpath(root, NULL);
    if (!r->real) return err_set(ST_USAGE, "images root %s: %s; set the images root to an existing directory",
                                 root, strerror(errno));
    if (stat(r->real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        safepath_root_free(r);
        return err_set(ST_USAGE, "images root %s is not a directory", root);
    }
    r->real_bytes = strlen(r->real);
    return ST_OK;
}

void safepath_root_free(struct safepath_root *r) {
    free(r->real);
    r->real = NULL;
    r->real_bytes = 0;
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
