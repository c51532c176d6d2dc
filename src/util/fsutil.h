/* fsutil.h - files that are never half-written.
 *
 * Outputs are written to a temporary name made by mkstemp() in the output's
 * own directory, flushed, fsync'ed, given mode 0666 & ~umask, and renamed over
 * the final name (then the directory is fsync'ed). A crash leaves either the
 * old file or the new one, never a mix.
 */
#ifndef ASSORT_FSUTIL_H
#define ASSORT_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

#define FS_PATH_MAX 4096

/* A text or binary output being written atomically. */
struct afile {
    FILE *f;                   /* write through this */
    char tmp[FS_PATH_MAX];     /* "<final>.tmp.XXXXXX" */
    char final[FS_PATH_MAX];
};

/* Opens a temporary file beside `path`. On error, af->f is NULL and the
 * message names the directory. */
int afile_open(struct afile *af, const char *path);
/* Flushes, fsyncs, sets the mode and renames over the final name. Closes. */
int afile_commit(struct afile *af);
/* Closes and removes the temporary file (safe to call after commit). */
void afile_abort(struct afile *af);

/* Writes `size_bytes` bytes to `path` atomically. */
int fs_write_atomic(const char *path, const void *data, size_t size_bytes);

/* Reads a whole file into a NUL-terminated malloc'ed buffer (caller frees). */
int fs_read_all(const char *path, char **data, size_t *size_bytes);

/* The same for an open descriptor, from its current offset to the end (the
 * fd stays open). size_hint: the expected size (e.g. fstat's st_size; 0 when
 * unknown), so a file of that size is read with one read(). ST_DATA "read
 * error" or ST_ERR "out of memory", for the caller to name the file. */
int fs_read_fd(int fd, size_t size_hint, char **data, size_t *size_bytes);

/* Copies src to dst (reflink when the filesystem can, else copy_file_range),
 * fsyncs dst, mode 0666 & ~umask. dst is overwritten. */
int fs_copy_file(const char *src, const char *dst);

/* rename() then fsync of the destination directory. */
int fs_rename(const char *from, const char *to);

/* 1 if the path exists, 0 if not. */
int fs_exists(const char *path);

/* mkdir -p with mode 0777 & ~umask. */
int fs_mkdir_p(const char *path);

/* Size in bytes, or -1. */
long long fs_size(const char *path);

/* Writes "<dir of path>" into out (with no trailing slash; "." if none). */
void fs_dirname(const char *path, char *out, size_t out_size);

/* Applies 0666 & ~umask to an open descriptor (mkstemp makes 0600). */
int fs_fix_mode(int fd);

#endif
