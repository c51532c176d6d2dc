/* fuzz_util.c - temp files for the fuzz targets (see fuzz_util.h). */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir_[512];
static char written_[16][64];
static int written_count_;

static void cleanup(void) {
    char p[2048];
    for (int i = 0; i < written_count_; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir_, written_[i]);
        unlink(p);
    }
    if (!tmpdir_[0]) return;
    snprintf(p, sizeof p, "%s/sub", tmpdir_);
    rmdir(p); /* fuzz_config's subfolder, if made */
    rmdir(tmpdir_);
}

const char *fuzz_tmpdir(void) {
    if (tmpdir_[0]) return tmpdir_;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir_, sizeof tmpdir_, "%s/assort-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir_)) {
        tmpdir_[0] = '\0';
        return NULL;
    }
    atexit(cleanup);
    return tmpdir_;
}

int fuzz_write_file(const char *name, const uint8_t *data, size_t size, char *out, size_t out_bytes) {
    const char *dir = fuzz_tmpdir();
    if (!dir) return -1;
    int known = 0;
    for (int i = 0; i < written_count_; i++) known |= !strcmp(written_[i], name);
    if (!known && written_count_ < 16 && strlen(name) < sizeof written_[0])
        snprintf(written_[written_count_++], sizeof written_[0], "%s", name);
    if ((size_t)snprintf(out, out_bytes, "%s/%s", dir, name) >= out_bytes) return -1;
    FILE *f = fopen(out, "wb");
    if (!f) return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    int bad = fclose(f) != 0 || put != size;
    return bad ? -1 : 0;
}
