#define _GNU_SOURCE
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

static mode_t current_umask(void) {
    mode_t m = umask(022);
    umask(m);
    return m;
}

int fs_fix_mode(int fd) {
    if (fchmod(fd, (mode_t)(0666 & ~current_umask())) != 0)
        return err_set(ST_ERR, "cannot set file mode: %s", strerror(errno));
    return ST_OK;
}

void fs_dirname(const char *path, char *out, size_t out_size) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, out_size, ".");
    } else if (slash == path) {
        snprintf(out, out_size, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= out_size) n = out_size - 1;
        memcpy(out, path, n);
        out[n] = '\0';
    }
}

static int fsync_dir_of(const char *path) {
    char dir[FS_PATH_MAX];
    fs_dirname(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return ST_OK; /* best effort: some filesystems refuse */
    fsync(fd);
    close(fd);
    return ST_OK;
}

int afile_open(struct afile *af, const char *path) {
    af->f = NULL;
    af->tmp[0] = '\0';
    if (snprintf(af->final, sizeof af->final, "%s", path) >= (int)sizeof af->final ||
        snprintf(af->tmp, sizeof af->tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof af->tmp)
        return err_set(ST_USAGE, "%s: path too long", path);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        char dir[FS_PATH_MAX];
        fs_dirname(path, dir, sizeof dir);
        int e = errno;
        af->tmp[0] = '\0';
        return err_set(ST_ERR, "%s: cannot create a temporary file in '%s': %s", path, dir,
                       strerror(e));
    }
    if (fs_fix_mode(fd) != ST_OK) {
        close(fd);
        unlink(af->tmp);
        af->tmp[0] = '\0';
        return err_wrap(ST_ERR, "%s", path);
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        unlink(af->tmp);
        af->tmp[0] = '\0';
        return err_set(ST_ERR, "%s: fdopen failed: %s", path, strerror(errno));
    }
    return ST_OK;
}

int afile_commit(struct afile *af) {
    if (!af->f) return err_set(ST_ERR, "%s: file was not open", af->final);
    int bad = ferror(af->f) != 0;
    int e = bad ? EIO : 0;
    if (fflush(af->f) != 0) { bad = 1; e = errno; }
    if (!bad && fsync(fileno(af->f)) != 0) { bad = 1; e = errno; }
    if (fclose(af->f) != 0 && !bad) { bad = 1; e = errno; }
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        af->tmp[0] = '\0';
        return err_set(ST_ERR, "%s: write failed (%s); the previous version, if any, is unchanged",
                       af->final, strerror(e));
    }
    if (rename(af->tmp, af->final) != 0) {
        e = errno;
        unlink(af->tmp);
        af->tmp[0] = '\0';
        return err_set(ST_ERR, "%s: rename failed: %s", af->final, strerror(e));
    }
    af->tmp[0] = '\0';
    return fsync_dir_of(af->final);
}

void afile_abort(struct afile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) unlink(af->tmp);
    af->tmp[0] = '\0';
}

int fs_write_atomic(const char *path, const void *data, size_t size_bytes) {
    struct afile af;
    int rc = afile_open(&af, path);
    if (rc != ST_OK) return rc;
    if (size_bytes && fwrite(data, 1, size_bytes, af.f) != size_bytes) {
        int e = errno;
        afile_abort(&af);
        return err_set(ST_ERR, "%s: write failed: %s", path, strerror(e));
    }
    return afile_commit(&af);
}

int fs_read_fd(int fd, size_t size_hint, char **data, size_t *size_bytes) {
    *data = NULL;
    if (size_bytes) *size_bytes = 0;
    /* one byte over the hint, so that the read that finds the end is not a
     * second pass through a grown buffer */
    size_t cap = (size_hint ? size_hint : 1 << 16) + 1, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return err_set(ST_ERR, "out of memory");
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                return err_set(ST_ERR, "out of memory");
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            free(buf);
            return err_set(ST_DATA, "read error");
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    *data = buf;
    if (size_bytes) *size_bytes = n;
    return ST_OK;
}

int fs_read_all(const char *path, char **data, size_t *size_bytes) {
    *data = NULL;
    if (size_bytes) *size_bytes = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(ST_DATA, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    size_t hint = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    int rc = fs_read_fd(fd, hint, data, size_bytes);
    close(fd);
    return rc == ST_OK ? rc : err_wrap(rc, "%s", path);
}

int fs_copy_file(const char *src, const char *dst) {
    int in = open(src, O_RDONLY);
    if (in < 0) return err_set(ST_ERR, "%s: cannot open: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (out < 0) {
        int e = errno;
        close(in);
        return err_set(ST_ERR, "%s: cannot create: %s", dst, strerror(e));
    }
    int rc = ST_OK;
    if (ioctl(out, FICLONE, in) != 0) {
        struct stat st;
        if (fstat(in, &st) != 0) {
            rc = err_set(ST_ERR, "%s: stat failed: %s", src, strerror(errno));
        } else {
            off_t left = st.st_size;
            while (left > 0) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
                if (n <= 0) {
                    rc = err_set(ST_ERR, "copying %s to %s failed: %s", src, dst,
                                 n == 0 ? "unexpected end of file" : strerror(errno));
                    break;
                }
                left -= n;
            }
        }
    }
    if (rc == ST_OK && fsync(out) != 0)
        rc = err_set(ST_ERR, "%s: fsync failed: %s", dst, strerror(errno));
    close(in);
    close(out);
    if (rc != ST_OK) unlink(dst);
    return rc;
}

int fs_rename(const char *from, const char *to) {
    if (rename(from, to) != 0)
        return err_set(ST_ERR, "cannot rename %s to %s: %s", from, to, strerror(errno));
    return fsync_dir_of(to);
}

int fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

long long fs_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

int fs_mkdir_p(const char *path) {
    char buf[FS_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return err_set(ST_USAGE, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return err_set(ST_ERR, "cannot create directory %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return err_set(ST_ERR, "cannot create directory %s: %s", buf, strerror(errno));
    return ST_OK;
}
