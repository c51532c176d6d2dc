/* table.c - disk-backed tables (see table.h). */
#include "ingest/table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/check.h"
#include "util/fsutil.h"

#define PAGE_BYTES 4096
#define PAGE_MIN_BYTES 64

int dtable_init(struct dtable *t, const char *what, size_t elem_bytes, size_t cache_bytes,
                const char *dir) {
    int rc = ST_OK;
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->what = what;
    t->dir = dir && dir[0] ? dir : ".";
    REQUIRE(elem_bytes > 0, ST_ERR, "internal: table %s with 0-byte elements", what);
    /* Pages of 4 KiB; a cache below 4 pages gets smaller pages so that a tiny
     * budget still holds a few of them. */
    size_t page = PAGE_BYTES;
    while (page > PAGE_MIN_BYTES && cache_bytes < 4 * page) page /= 2;
    t->page_bytes = page;
    while (((size_t)1 << t->page_shift) < page) t->page_shift++;
    t->elem_bytes = elem_bytes;
    t->slot_count = cache_bytes / page ? cache_bytes / page : 1;
    TRY_ALLOC(t->slot = calloc(t->slot_count, sizeof *t->slot));
    TRY_ALLOC(t->slot_page = malloc(t->slot_count * sizeof *t->slot_page));
    TRY_ALLOC(t->slot_dirty = calloc(t->slot_count, 1));
    for (size_t s = 0; s < t->slot_count; s++) t->slot_page[s] = -1;
fail:
    if (rc != ST_OK) dtable_free(t);
    return rc;
}

void dtable_free(struct dtable *t) {
    for (size_t s = 0; t->slot && s < t->slot_count; s++) free(t->slot[s]);
    free(t->slot);
    free(t->slot_page);
    free(t->slot_dirty);
    if (t->slot_count && t->fd >= 0) close(t->fd); /* a zeroed table has fd 0: not ours */
    t->slot = NULL;
    t->slot_page = NULL;
    t->slot_dirty = NULL;
    t->slot_count = 0;
    t->fd = -1;
    t->count = 0;
}

int dtable_resize(struct dtable *t, int64_t count) {
    if (count < t->count)
        return err_set(ST_ERR, "internal: table %s cannot shrink (%lld -> %lld)", t->what,
                       (long long)t->count, (long long)count);
    t->count = count;
    return ST_OK;
}

/* The temporary file, created when the first page leaves the cache. */
static int file_open(struct dtable *t) {
    char tmpl[FS_PATH_MAX];
    int n = snprintf(tmpl, sizeof tmpl, "%s/.assort-ingest-tables.XXXXXX", t->dir);
    if (n < 0 || (size_t)n >= sizeof tmpl)
        return err_set(ST_ERR, "%s: folder name too long for the ingest's temporary tables", t->dir);
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return err_set(ST_ERR, "%s: cannot create a temporary file for the ingest table '%s' (%s); "
                       "make the catalog's folder writable or raise ingest.table_memory_kib",
                       t->dir, t->what, strerror(errno));
    unlink(tmpl); /* gone from the folder at once; the space is freed when fd closes */
    t->fd = fd;
    return ST_OK;
}

static int page_write(struct dtable *t, size_t s) {
    if (t->fd < 0) {
        int rc = file_open(t);
        if (rc != ST_OK) return rc;
    }
    const uint8_t *p = t->slot[s];
    size_t left = t->page_bytes;
    off_t off = (off_t)t->slot_page[s] << t->page_shift;
    while (left) {
        ssize_t w = pwrite(t->fd, p, left, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return err_set(ST_ERR, "%s: writing the ingest's temporary table '%s' failed (%s); free "
                           "space in that folder or raise ingest.table_memory_kib", t->dir, t->what,
                           w < 0 ? strerror(errno) : "no progress");
        p += w;
        left -= (size_t)w;
        off += w;
    }
    t->slot_dirty[s] = 0;
    t->pages_out++;
    return ST_OK;
}

static int page_read(struct dtable *t, size_t s, int64_t page) {
    uint8_t *p = t->slot[s];
    size_t got = 0;
    off_t off = (off_t)page << t->page_shift;
    while (t->fd >= 0 && got < t->page_bytes) {
        ssize_t r = pread(t->fd, p + got, t->page_bytes - got, off + (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return err_set(ST_ERR, "%s: reading the ingest's temporary table '%s' failed (%s)",
                           t->dir, t->what, strerror(errno));
        if (r == 0) break; /* past the end: never written */
        got += (size_t)r;
    }
    if (got) t->pages_in++;
    memset(p + got, 0, t->page_bytes - got);
    return ST_OK;
}

/* The cache slot holding `page`, loading it (and writing out the page it
 * replaces when dirty). */
static int page_get(struct dtable *t, int64_t page, size_t *slot) {
    int rc = ST_OK;
    size_t s = (size_t)page % t->slot_count;
    *slot = s;
    if (t->slot_page[s] == page) return ST_OK;
    if (!t->slot[s]) TRY_ALLOC(t->slot[s] = malloc(t->page_bytes));
    if (t->slot_page[s] >= 0 && t->slot_dirty[s]) TRY(page_write(t, s));
    t->slot_page[s] = -1;
    TRY(page_read(t, s, page));
    t->slot_page[s] = page;
fail:
    return rc;
}

/* Copies element i out (write = 0) or in (write = 1), page by page. */
static int elem_io(struct dtable *t, int64_t i, void *buf, int write) {
    int rc = ST_OK;
    REQUIRE(i >= 0 && i < t->count, ST_ERR, "internal: table %s index %lld out of [0, %lld)",
            t->what, (long long)i, (long long)t->count);
    uint64_t off = (uint64_t)i * t->elem_bytes;
    size_t left = t->elem_bytes;
    uint8_t *b = buf;
    while (left) {
        int64_t page = (int64_t)(off >> t->page_shift);
        size_t in = (size_t)(off & (t->page_bytes - 1));
        size_t n = t->page_bytes - in < left ? t->page_bytes - in : left;
        size_t s;
        TRY(page_get(t, page, &s));
        if (write) {
            memcpy(t->slot[s] + in, b, n);
            t->slot_dirty[s] = 1;
        } else {
            memcpy(b, t->slot[s] + in, n);
        }
        b += n;
        off += n;
        left -= n;
    }
fail:
    return rc;
}

int dtable_get(struct dtable *t, int64_t i, void *out) { return elem_io(t, i, out, 0); }

int dtable_set(struct dtable *t, int64_t i, const void *in) { return elem_io(t, i, (void *)in, 1); }

/* --- the map -------------------------------------------------------------- */

struct dslot {
    uint64_t key[2];
    int64_t value1;          /* value + 1; 0 = empty (a new table reads as zeros) */
};

static int slots_new(struct dmap *m, int64_t cap) {
    int rc = ST_OK;
    TRY(dtable_init(&m->slots, m->what, sizeof(struct dslot), m->cache_bytes, m->dir));
    TRY(dtable_resize(&m->slots, cap));
    m->cap = cap;
fail:
    return rc;
}

int dmap_init(struct dmap *m, const char *what, int64_t expect, size_t cache_bytes,
              const char *dir) {
    memset(m, 0, sizeof *m);
    m->what = what;
    m->cache_bytes = cache_bytes;
    m->dir = dir;
    int64_t cap = 64;
    while (cap < expect * 2 + 16) cap *= 2;
    return slots_new(m, cap);
}

/* Slot of key: its own or the empty one where it would go. */
static int probe(struct dmap *m, const uint64_t key[2], int64_t *at, struct dslot *sl) {
    int rc = ST_OK;
    int64_t i = (int64_t)(key[1] & (uint64_t)(m->cap - 1));
    for (;;) {
        TRY(dtable_get(&m->slots, i, sl));
        if (!sl->value1 || (sl->key[0] == key[0] && sl->key[1] == key[1])) break;
        i = (i + 1) & (m->cap - 1);
    }
    *at = i;
fail:
    return rc;
}

int dmap_get(struct dmap *m, const uint64_t key[2], int64_t *value) {
    int rc = ST_OK;
    int64_t at;
    struct dslot sl;
    *value = -1;
    TRY(probe(m, key, &at, &sl));
    *value = sl.value1 - 1;
fail:
    return rc;
}

static void stats_take(struct dmap *m) {
    m->pages_out += m->slots.pages_out;
    m->pages_in += m->slots.pages_in;
    m->slots.pages_out = m->slots.pages_in = 0;
}

int dmap_put(struct dmap *m, const uint64_t key[2], int64_t value) {
    int rc = ST_OK;
    struct dtable old;
    memset(&old, 0, sizeof old);
    old.fd = -1;
    int64_t at;
    struct dslot sl;
    if ((m->count + 1) * 2 > m->cap) {
        /* Double: rehash every slot of the old table into a new one. */
        int64_t old_cap = m->cap;
        stats_take(m);
        old = m->slots;
        memset(&m->slots, 0, sizeof m->slots);
        m->slots.fd = -1;
        TRY(slots_new(m, old_cap * 2));
        for (int64_t i = 0; i < old_cap; i++) {
            TRY(dtable_get(&old, i, &sl));
            if (!sl.value1) continue;
            struct dslot tmp;
            TRY(probe(m, sl.key, &at, &tmp));
            TRY(dtable_set(&m->slots, at, &sl));
        }
        m->pages_out += old.pages_out;
        m->pages_in += old.pages_in;
        dtable_free(&old);
    }
    TRY(probe(m, key, &at, &sl));
    REQUIRE(!sl.value1, ST_ERR, "internal: key already in the id map");
    REQUIRE(value >= 0, ST_ERR, "internal: negative value for the id map");
    sl.key[0] = key[0];
    sl.key[1] = key[1];
    sl.value1 = value + 1;
    TRY(dtable_set(&m->slots, at, &sl));
    m->count++;
fail:
    dtable_free(&old);
    return rc;
}

void dmap_free(struct dmap *m) {
    stats_take(m);
    dtable_free(&m->slots);
    m->cap = m->count = 0;
}
