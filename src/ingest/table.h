/* table.h - disk-backed tables for the ingest stage's per-product state.
 *
 * A `struct dtable` is an array of fixed-size elements seen through a
 * fixed-size page cache: at most `cache_bytes` of it are in memory, the rest
 * lives in a temporary file (created with mkstemp in a given folder and
 * unlinked at once, so no exit path leaves it behind). The file is only
 * created when a dirty page first has to leave the cache: a table that fits
 * its cache never touches the disk and costs what a malloc'ed array would.
 * Access copies elements in and out (dtable_get / dtable_set), so no pointer
 * into the cache is ever handed out.
 *
 * A `struct dmap` is an open-addressing map from a 128-bit key (XXH3-128 of
 * an id) to an int64 value, its slots kept in a dtable: its memory is the
 * same fixed budget whatever the number of keys.
 *
 * Elements never written read as zero bytes.
 */
#ifndef ASSORT_INGEST_TABLE_H
#define ASSORT_INGEST_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct dtable {
    const char *what;        /* name in messages (static string) */
    const char *dir;         /* folder of the temporary file (borrowed) */
    size_t elem_bytes;
    size_t page_bytes;       /* power of two */
    unsigned page_shift;
    int64_t count;           /* elements */
    size_t slot_count;       /* pages the cache holds: page p lives in slot p % slot_count */
    uint8_t **slot;          /* (slot_count) page buffers, allocated on first use */
    int64_t *slot_page;      /* (slot_count) page held, -1 = none */
    uint8_t *slot_dirty;     /* (slot_count) */
    int fd;                  /* temporary file, -1 until the first page is written out */
    int64_t pages_out;       /* pages written to the file (0 = never spilled) */
    int64_t pages_in;        /* pages read back from the file */
};

/* Prepares an empty table of elem_bytes-sized elements whose cache holds
 * at most cache_bytes (at least one page; pages are 4 KiB, smaller when the
 * cache is below 16 KiB). `what` (a static string) names the table in
 * messages; `dir` (borrowed, must outlive the table) is where its temporary
 * file goes. ST_ERR on a bad argument or no memory. */
int dtable_init(struct dtable *t, const char *what, size_t elem_bytes, size_t cache_bytes,
                const char *dir);

/* Sets the element count; new elements read as zero. Only growth is allowed. */
int dtable_resize(struct dtable *t, int64_t count);

/* Copies element i (0 <= i < count) into out / from in. ST_ERR (message
 * naming the table and the folder) when the temporary file cannot be
 * created, written or read. */
int dtable_get(struct dtable *t, int64_t i, void *out);
int dtable_set(struct dtable *t, int64_t i, const void *in);

/* Frees the cache and closes (so deletes) the temporary file. Safe on a
 * zeroed or already freed table. */
void dtable_free(struct dtable *t);

struct dmap {
    struct dtable slots;     /* (cap) of struct { uint64 key[2]; int64 value + 1 } */
    int64_t cap;             /* power of two */
    int64_t count;
    size_t cache_bytes;
    const char *what;        /* name in messages (static string) */
    const char *dir;
    int64_t pages_out;       /* of the slot tables this map has had (it grows) */
    int64_t pages_in;
};

/* An empty map sized for about `expect` keys (it grows by doubling; while
 * it grows, the old and the new slot tables each have cache_bytes). */
int dmap_init(struct dmap *m, const char *what, int64_t expect, size_t cache_bytes,
              const char *dir);

/* *value = the value of key, or -1 when absent. */
int dmap_get(struct dmap *m, const uint64_t key[2], int64_t *value);

/* Inserts key (which must be absent) with value >= 0. */
int dmap_put(struct dmap *m, const uint64_t key[2], int64_t value);

void dmap_free(struct dmap *m);

#endif
