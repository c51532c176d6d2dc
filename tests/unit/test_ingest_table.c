/* test_ingest_table.c - the ingest's disk-backed table and id map against
 * plain in-memory references, with caches small enough that pages go to the
 * temporary file and come back (the spill path), and with a cache that holds
 * everything (no file at all). */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/table.h"
#include "testlib.h"
#include "util/status.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_u64(void) { /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

/* Entries in dir other than . and .. (the temporary file must not show). */
static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* count elements of elem bytes, cache of cache bytes: random sets (with the
 * table growing in steps, as load_csv appends) and gets against a plain
 * array. Returns the table's pages written out. */
static int64_t table_case(const char *dir, size_t elem, size_t cache, int64_t count, int ops) {
    struct dtable t;
    uint8_t *ref = calloc((size_t)count, elem), *buf = malloc(elem), *got = malloc(elem);
    int bad = 0;
    int64_t out = -1;
    EXPECT(dtable_init(&t, "test", elem, cache, dir) == ST_OK, "init: %s", err_msg());
    int64_t have = 0;
    for (int k = 0; k < ops; k++) {
        if (have < count && (have == 0 || next_u64() % 8 == 0)) {
            int64_t grow = have + 1 + (int64_t)(next_u64() % 97);
            have = grow < count ? grow : count;
            if (dtable_resize(&t, have) != ST_OK) bad++;
        }
        int64_t i = (int64_t)(next_u64() % (uint64_t)have);
        if (next_u64() % 2) {
            for (size_t b = 0; b < elem; b++) buf[b] = (uint8_t)next_u64();
            memcpy(ref + (size_t)i * elem, buf, elem);
            if (dtable_set(&t, i, buf) != ST_OK) bad++;
        } else {
            if (dtable_get(&t, i, got) != ST_OK) bad++;
            if (memcmp(got, ref + (size_t)i * elem, elem)) bad++;
        }
    }
    EXPECT(dir_entries(dir) == 0, "the temporary file is visible in %s", dir);
    /* Then every element once, in order (as the row scans do). */
    for (int64_t i = 0; i < have; i++) {
        if (dtable_get(&t, i, got) != ST_OK) bad++;
        if (memcmp(got, ref + (size_t)i * elem, elem)) bad++;
    }
    EXPECT(dtable_get(&t, have, got) != ST_OK, "reading past the end must fail");
    EXPECT(bad == 0, "%d mismatches (elem %zu, cache %zu, count %lld)", bad, elem, cache,
           (long long)count);
    out = t.pages_out;
    if (t.pages_out) EXPECT(t.pages_in > 0, "pages written out but none read back");
    dtable_free(&t);
    free(ref);
    free(buf);
    free(got);
    return out;
}

static int64_t map_case(const char *dir, size_t cache, int64_t keys) {
    struct dmap m;
    uint64_t(*ref)[2] = malloc((size_t)keys * sizeof *ref);
    int bad = 0;
    EXPECT(dmap_init(&m, "test map", 16, cache, dir) == ST_OK, "init: %s", err_msg());
    for (int64_t i = 0; i < keys; i++) {
        ref[i][0] = next_u64();
        ref[i][1] = next_u64();
        if (i % 7 == 3) ref[i][1] = ref[i - 1][1]; /* same probe start, other key */
        int64_t v;
        if (dmap_get(&m, ref[i], &v) != ST_OK || v != -1) bad++;
        if (dmap_put(&m, ref[i], i * 3) != ST_OK) bad++;
        /* a random earlier key is still there with its value */
        int64_t j = (int64_t)(next_u64() % (uint64_t)(i + 1));
        if (dmap_get(&m, ref[j], &v) != ST_OK || v != j * 3) bad++;
    }
    for (int64_t i = 0; i < keys; i++) {
        int64_t v;
        if (dmap_get(&m, ref[i], &v) != ST_OK || v != i * 3) bad++;
        uint64_t absent[2] = {ref[i][0] ^ 1, ref[i][1]};
        if (dmap_get(&m, absent, &v) != ST_OK || v != -1) bad++;
    }
    EXPECT(m.count == keys, "count %lld, expected %lld", (long long)m.count, (long long)keys);
    EXPECT(dmap_put(&m, ref[0], 5) != ST_OK, "a second put of a key must fail");
    EXPECT(bad == 0, "%d map mismatches (cache %zu, keys %lld)", bad, cache, (long long)keys);
    EXPECT(dir_entries(dir) == 0, "the temporary file is visible in %s", dir);
    int64_t out = m.pages_out + m.slots.pages_out;
    dmap_free(&m);
    free(ref);
    return out;
}

int main(void) {
    char dir[] = "/tmp/test_ingest_table.XXXXXX";
    if (!mkdtemp(dir)) test_skip("mkdtemp failed");

    /* Fits its cache: never spills (no file). */
    EXPECT_INT(table_case(dir, 40, 1 << 20, 5000, 40000), 0);
    /* Tiny caches: spills, elements straddling pages (40, 24, 72 bytes), one
     * element bigger than a page (3 levels * 4 bytes is small; 700 is not). */
    EXPECT(table_case(dir, 40, 1024, 5000, 40000) > 0, "40-byte table did not spill");
    EXPECT(table_case(dir, 24, 256, 3000, 30000) > 0, "24-byte table did not spill");
    EXPECT(table_case(dir, 72, 16 * 1024, 4000, 30000) > 0, "72-byte table did not spill");
    EXPECT(table_case(dir, 700, 64, 300, 5000) > 0, "700-byte table did not spill");
    EXPECT(table_case(dir, 1, 64, 20000, 50000) > 0, "1-byte table did not spill");

    /* The map: in memory, and spilled through a 1 KiB cache (grows 64 -> 8192 slots). */
    EXPECT_INT(map_case(dir, 1 << 20, 3000), 0);
    EXPECT(map_case(dir, 1024, 3000) > 0, "the map did not spill");

    /* A folder where the file cannot be created: a clear error, not a crash. */
    struct dtable t;
    uint8_t z[64] = {0};
    int rc = dtable_init(&t, "nowhere", 64, 64, "/nonexistent/dir");
    EXPECT(rc == ST_OK, "init does not touch the folder");
    dtable_resize(&t, 10);
    int st = ST_OK;
    for (int i = 0; i < 10 && st == ST_OK; i++) st = dtable_set(&t, i, z);
    EXPECT(st == ST_ERR && strstr(err_msg(), "/nonexistent/dir") &&
               strstr(err_msg(), "ingest.table_memory_kib"),
           "expected an error naming the folder and the key, got rc %d: %s", st, err_msg());
    dtable_free(&t);

    rmdir(dir);
    return TEST_END();
}
