/* safepath.h - resolve an image path from the CSV under the images root.
 *
 * CSV files come from other teams: a path such as "../../etc/passwd", an
 * absolute path, or a symlink inside the root that points elsewhere must not
 * make ingest read files outside the images root. A failure returns ST_DATA
 * with one of these stable reasons in err_msg() (stored in the rejects table):
 *   "empty image path"
 *   "absolute image path"
 *   "path escapes the images root"   ('..' above the root, or a symlink out)
 *   "missing file"
 *   "not a regular file"
 *   "unreadable path (<strerror>)"
 */
#ifndef ASSORT_SAFEPATH_H
#define ASSORT_SAFEPATH_H

#include <stddef.h>

struct safepath_root {
    char *real;        /* realpath() of the root, no trailing '/' (except "/") */
    size_t real_bytes;
    int allow_outside; /* 1: accept absolute paths and escapes (trusted input) */
};

/* Resolves the root once. Needs an existing directory; ST_USAGE otherwise
 * (message names the path). Free with safepath_root_free(). */
int safepath_root_init(struct safepath_root *r, const char *root, int allow_outside);
void safepath_root_free(struct safepath_root *r);

/* Resolves `rel` (as written in the CSV) under the root: rejects absolute
 * paths and any '..' that climbs above the root before touching the file
 * system, then realpath()s the result and checks it is still inside the root
 * (catches symlinks out) and is a regular file. On success *out is a
 * malloc'ed absolute path the caller frees; on failure *out is NULL. */
int safepath_resolve(const struct safepath_root *r, const char *rel, char **out);

#endif
