/* test_image_path.c - safepath: image paths from the CSV stay under the
 * images root (absolute paths, '..' escapes and symlinks out are refused),
 * by safepath_resolve and by safepath_read (openat2 beneath the root, with
 * the same reasons), which also returns the file's bytes; an absolute
 * symlink that points inside the root is accepted by both, a FIFO is refused
 * without hanging. */
#include "ingest/safepath.h"
#include "testlib.h"
#include "util/status.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/assort-path-XXXXXX";

static void touch(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(rel, f); /* the content is the name: safepath_read's bytes are checked */
        fclose(f);
    }
}

static void expect_reason(const struct safepath_root *r, const char *rel, const char *reason) {
    char *out = NULL;
    size_t n = 7;
    int rc = safepath_resolve(r, rel, &out);
    EXPECT(rc == ST_DATA && out == NULL, "%s: rc %d", rel, rc);
    EXPECT(strcmp(err_msg(), reason) == 0, "%s: \"%s\", expected \"%s\"", rel, err_msg(), reason);
    free(out);
    rc = safepath_read(r, rel, &out, &n);
    EXPECT(rc == ST_DATA && out == NULL && n == 0, "read %s: rc %d", rel, rc);
    EXPECT(strcmp(err_msg(), reason) == 0, "read %s: \"%s\", expected \"%s\"", rel, err_msg(),
           reason);
    free(out);
}

/* safepath_read of rel succeeds with the bytes of the file touched as `want`. */
static void expect_read(const struct safepath_root *r, const char *rel, const char *want) {
    char *data = NULL;
    size_t n = 0;
    int rc = safepath_read(r, rel, &data, &n);
    EXPECT(rc == ST_OK, "read %s: rc %d (%s)", rel, rc, err_msg());
    EXPECT(data && n == strlen(want) && memcmp(data, want, n) == 0 && data[n] == '\0',
           "read %s: %zu bytes \"%s\", expected \"%s\"", rel, n, data ? data : "(null)", want);
    free(data);
}

int main(void) {
    if (!mkdtemp(base)) test_skip("cannot make a temporary directory");
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/root", base);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/root/images", base);
    mkdir(p, 0755);
    touch("root/images/1.jpg");
    touch("outside.jpg");
    snprintf(p, sizeof p, "%s/outside.jpg", base);
    snprintf(q, sizeof q, "%s/root/images/link-out.jpg", base);
    EXPECT(symlink(p, q) == 0, "symlink");
    snprintf(q, sizeof q, "%s/root/images/link-in.jpg", base);
    EXPECT(symlink("1.jpg", q) == 0, "symlink");
    /* an absolute symlink to a file inside the root (RESOLVE_BENEATH refuses
     * it; safepath_read must fall back and accept it like safepath_resolve) */
    snprintf(p, sizeof p, "%s/root/images/1.jpg", base);
    snprintf(q, sizeof q, "%s/root/images/link-abs-in.jpg", base);
    EXPECT(symlink(p, q) == 0, "symlink");
    snprintf(q, sizeof q, "%s/root/images/fifo.jpg", base);
    EXPECT(mkfifo(q, 0644) == 0, "mkfifo");

    struct safepath_root r;
    snprintf(p, sizeof p, "%s/root", base);
    EXPECT_INT(safepath_root_init(&r, p, 0), ST_OK);

    char *out = NULL;
    EXPECT_INT(safepath_resolve(&r, "images/1.jpg", &out), ST_OK);
    snprintf(q, sizeof q, "%s/root/images/1.jpg", base);
    EXPECT(out && strcmp(out, q) == 0, "resolved to %s", out ? out : "(null)");
    free(out);
    EXPECT_INT(safepath_resolve(&r, "images/../images/./1.jpg", &out), ST_OK);
    free(out);
    EXPECT_INT(safepath_resolve(&r, "images/link-in.jpg", &out), ST_OK);
    EXPECT(out && strcmp(out, q) == 0, "symlink inside resolves to its target");
    free(out);

    EXPECT_INT(safepath_resolve(&r, "images/link-abs-in.jpg", &out), ST_OK);
    free(out);
    expect_read(&r, "images/1.jpg", "root/images/1.jpg");
    expect_read(&r, "images/../images/./1.jpg", "root/images/1.jpg");
    expect_read(&r, "images/link-in.jpg", "root/images/1.jpg");
    expect_read(&r, "images/link-abs-in.jpg", "root/images/1.jpg");

    expect_reason(&r, "", "empty image path");
    expect_reason(&r, "/etc/passwd", "absolute image path");
    expect_reason(&r, "../outside.jpg", "path escapes the images root");
    expect_reason(&r, "images/../../outside.jpg", "path escapes the images root");
    expect_reason(&r, "images/link-out.jpg", "path escapes the images root");
    expect_reason(&r, "images/2.jpg", "missing file");
    expect_reason(&r, "images", "not a regular file");
    expect_reason(&r, "images/fifo.jpg", "not a regular file");
    safepath_root_free(&r);

    /* Trusted input: escapes allowed when asked for. */
    EXPECT_INT(safepath_root_init(&r, p, 1), ST_OK);
    EXPECT_INT(safepath_resolve(&r, "images/link-out.jpg", &out), ST_OK);
    free(out);
    EXPECT_INT(safepath_resolve(&r, "../outside.jpg", &out), ST_OK);
    free(out);
    expect_read(&r, "images/link-out.jpg", "outside.jpg");
    expect_read(&r, "../outside.jpg", "outside.jpg");
    safepath_root_free(&r);

    EXPECT_INT(safepath_root_init(&r, "/nonexistent/root", 0), ST_USAGE);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", base);
    return TEST_END();
}
