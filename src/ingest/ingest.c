/* ingest.c - the ingest stage (see ingest.h and docs/ingest.md).
 *
 * Flow, every rank in step:
 *   1. stream the whole CSV, row-level checks (identical on every rank),
 *      keeping per record its offset, line and id hash (fields are read
 *      again with row_fetch when a phase needs them);
 *   2. begin the transaction (work copy); on --update read the old rows'
 *      fixed-size columns and the hashes of their ids and names;
 *   3. pass A over a shard of the candidate rows: resolve the path, read the
 *      file once, XXH3-128, decode to check (skipped when the hash equals the
 *      stored one); allgatherv of accept flags + hashes and reject records;
 *   4. assemble the final rows (identical everywhere), the reject ratio check;
 *   5. pass B over a shard of the rows needing pixels: decode + resize, one
 *      write per batch of a few images (bounded memory);
 *   6. every rank writes the per-product datasets of its row range (strings
 *      re-read from the CSV in slabs); rank 0 the categories, rejects, run
 *      record; commit.
 */
#include "ingest/ingest.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/run.h"
#include "dist/dist.h"
#include "ingest/csv.h"
#include "ingest/image.h"
#include "ingest/rejects.h"
#include "ingest/resize.h"
#include "ingest/safepath.h"
#include "ingest/table.h"
#include "util/check.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/signals.h"

#define STAGE "ingest"
#define PASS_A_BATCH 64 /* candidates checked per fault point */
#define PASS_A_SYNC 4   /* batches between check-ins (errors, stop requests) */
/* Pass B's write batches (multiples of the chunk's 4 rows). All ranks write
 * one file, and the kernel serialises writes to one file (the inode's lock, a
 * rwsem whose waiters spin on its owner: perf showed 10% of both cores in
 * rwsem_spin_on_owner with 32-image writes and an agreement every 8). Small
 * writes of a cache-hot buffer and rare agreements let one rank's write
 * overlap the other's decode instead: 2 ranks went from 1.52x to 1.7x one
 * rank's speed (N=20,000, /dev/shm, docs/benchmarks.md). Collective
 * (deflate) writes keep larger batches: each one is a collective call. */
#define PASS_B_BATCH 8        /* images per rank per independent write */
#define PASS_B_SYNC 64        /* independent batches between check-ins (512 images) */
#define PASS_B_BATCH_COLL 32  /* images per rank per collective write (deflate) */
#define PASS_B_BATCH_MAX 32

/* --- small string -> index map (open addressing; keys owned elsewhere) ---- */

struct idmap {
    size_t cap;         /* power of two */
    size_t count;
    const char **keys;  /* (cap) NULL = empty slot */
    int64_t *vals;      /* (cap) */
};

static int idmap_init(struct idmap *m, size_t expect) {
    size_t cap = 64;
    while (cap < expect * 2 + 16) cap *= 2;
    m->cap = cap;
    m->count = 0;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    if (!m->keys || !m->vals) return err_set(ST_ERR, "out of memory (id map of %zu)", cap);
    return ST_OK;
}

static void idmap_free(struct idmap *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t idmap_slot(const struct idmap *m, const char *key) {
    size_t i = (size_t)hash64(key, strlen(key)) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key)) i = (i + 1) & (m->cap - 1);
    return i;
}

/* Value of key, or -1. */
static int64_t idmap_get(const struct idmap *m, const char *key) {
    if (!m->cap) return -1;
    size_t i = idmap_slot(m, key);
    return m->keys[i] ? m->vals[i] : -1;
}

/* Inserts key (must be absent). The key pointer must outlive the map. */
static int idmap_put(struct idmap *m, const char *key, int64_t val) {
    if ((m->count + 1) * 2 > m->cap) {
        struct idmap big;
        int rc = idmap_init(&big, m->count + 1);
        if (rc != ST_OK) return rc;
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = idmap_slot(&big, m->keys[i]);
                big.keys[j] = m->keys[i];
                big.vals[j] = m->vals[i];
                big.count++;
            }
        idmap_free(m);
        *m = big;
    }
    size_t i = idmap_slot(m, key);
    m->keys[i] = key;
    m->vals[i] = val;
    m->count++;
    return ST_OK;
}

/* --- ids ---------------------------------------------------------------- */

/* XXH3-128 of a string as two words (the map's key). */
static void id_key(const char *s, uint64_t key[2]) {
    uint8_t h[16];
    hash128(s, strlen(s), h);
    memcpy(key, h, 16);
}

/* --- class tables ------------------------------------------------------- */

struct classes {
    char **names;       /* (count) owned, at most CATALOG_CLASS_BYTES - 1 bytes */
    int64_t count, cap;
    struct idmap map;
};

/* Index of `name` in the table, appending it when new. */
static int classes_index(struct classes *c, const char *name, int32_t *out) {
    int rc = ST_OK;
    int64_t i = idmap_get(&c->map, name);
    if (i >= 0) {
        *out = (int32_t)i;
        return ST_OK;
    }
    if (c->count == c->cap) {
        int64_t cap = c->cap ? c->cap * 2 : 64;
        char **p = realloc(c->names, (size_t)cap * sizeof *p);
        TRY_ALLOC(p);
        c->names = p;
        c->cap = cap;
    }
    char *copy = strdup(name);
    TRY_ALLOC(copy);
    c->names[c->count] = copy;
    TRY(idmap_put(&c->map, copy, c->count));
    *out = (int32_t)c->count++;
fail:
    return rc;
}

static void classes_free(struct classes *c) {
    for (int64_t i = 0; i < c->count; i++) free(c->names[i]);
    free(c->names);
    idmap_free(&c->map);
    memset(c, 0, sizeof *c);
}

/* --- the state of one run ------------------------------------------------ */

/* The per-product state lives in disk-backed tables (table.h): each has a
 * fixed share of ingest.table_memory_kib and spills to a temporary file
 * beyond it, so a rank's memory does not grow with the catalog. */
#define TABLE_SHARES 11 /* rows, ids, cands, old ids, prows, labels, work, 3 reject lists (the
                           * row-level, pass A's local and gathered ones; then the merged one)
                           * + one for a map growing */

/* One CSV record: where to read it again (csv_seek), not its fields. */
struct row {
    int64_t line;           /* 1-based line where the record starts */
    int64_t offset;         /* byte offset of the record in the CSV */
    uint64_t idh[2];        /* XXH3-128 of the id (0 when the id was bad) */
    int64_t rejected;       /* 1 once a reject was recorded for it */
};

/* One candidate (a record that passed the row checks). */
struct cand {
    int64_t ri;             /* its CSV record */
    uint8_t hash[16];       /* XXH3-128 of the image file (pass A) */
    int64_t ok;             /* pass A: 0 unchecked, 1 accepted, 2 rejected; after: 1 / 0 */
};

/* One catalog row after this run (old rows first on --update): only the
 * fixed-size columns; the string columns (id, name, path, attrs) are
 * written from the CSV in slabs (write_strings) and otherwise stay as the
 * work copy has them. Labels are in their own table (L per row). */
struct prow {
    uint64_t idh[2];        /* XXH3-128 of the id */
    uint8_t hash[16];       /* image XXH3-128, big-endian */
    uint64_t nameh;         /* XXH3-64 of the stored name (change detection) */
    int64_t src1;           /* CSV record + 1 that fills the row's strings, 0 = kept */
    int64_t work1;          /* candidate + 1 whose pixels go to the row, 0 = none */
    int64_t line;           /* source_line */
    uint8_t status, dirty, needs_sim, pad[5];
};

/* One image to decode, resize and write in pass B. */
struct work {
    int64_t cand;
    int64_t row;            /* ascending over the work table */
};

/* Per-phase timers (seconds on this rank), logged at the end and kept in the
 * run record as the maximum over ranks: where ingest spends its time. */
enum tm_phase {
    TM_A_READ,     /* pass A: resolve the path, read, hash */
    TM_A_DECODE,   /* pass A: decode to check */
    TM_A_SYNC,     /* pass A: agreement, stop polls, exchange of flags/hashes/rejects */
    TM_B_READ,     /* pass B: resolve, read, hash again */
    TM_B_DECODE,   /* pass B: decode */
    TM_B_RESIZE,   /* pass B: resize into the batch buffer */
    TM_B_WRITE,    /* pass B: H5Dwrite of the batches */
    TM_B_SYNC,     /* pass B: agreement and stop polls */
    TM_COUNT
};
static const char *const tm_names[TM_COUNT] = {"a_read_hash", "a_decode", "a_sync", "b_read_hash",
                                               "b_decode", "b_resize", "b_write", "b_sync"};

struct ingest {
    const struct config *cfg;
    const char *csv_path;
    int L, K;
    int rank, size;
    char tmp_dir[FS_PATH_MAX]; /* the catalog's folder: the tables' temporary files */
    size_t share_bytes;        /* cache of each table */

    /* The CSV is kept as offsets, not fields: a row's fields are read again
     * (row_fetch) when a phase needs them, so memory per product does not
     * depend on the length of its names, paths and attributes. */
    struct csv *rd;          /* second reader, for row_fetch */
    int id_col, name_col, img_col;
    int *lev_col, *keep_col; /* (L), (K) */
    struct dtable rows;      /* (n_rows) struct row: every data record, CSV order */
    int64_t n_rows;
    struct dmap ids;         /* id hash -> row index of its first valid occurrence */
    struct dtable cands;     /* (n_cand) struct cand */
    int64_t n_cand;
    struct reject_list rejects;   /* row-level rejects (every rank), then all of them by line */

    struct safepath_root root;
    int root_ok;
    struct image_opts iopt;
    struct resize_opts ropt;

    int64_t old_n, n, cap;
    struct dmap old_ids;     /* old id hash -> row */
    struct dtable prows;     /* (cap) struct prow */
    struct dtable labels;    /* (cap, L) int32 */
    struct classes *cls;     /* (L) */
    struct dtable work;      /* (n_work) struct work, ascending row */
    int64_t n_work;

    struct ingest_counts counts;
    double tm[TM_COUNT];     /* this rank's seconds per phase (enum tm_phase) */
};

static void ingest_free(struct ingest *g) {
    csv_close(g->rd);
    free(g->lev_col);
    free(g->keep_col);
    dtable_free(&g->rows);
    dmap_free(&g->ids);
    dtable_free(&g->cands);
    dmap_free(&g->old_ids);
    rejects_free(&g->rejects);
    if (g->root_ok) safepath_root_free(&g->root);
    dtable_free(&g->prows);
    dtable_free(&g->labels);
    for (int l = 0; g->cls && l < g->L; l++) classes_free(&g->cls[l]);
    free(g->cls);
    dtable_free(&g->work);
}

/* Bytes of the tables written to their temporary files so far. */
static int64_t spilled_bytes(const struct ingest *g) {
    const struct dtable *t[] = {&g->rows, &g->cands, &g->prows, &g->labels, &g->work,
                                &g->rejects.items};
    const struct dmap *m[] = {&g->ids, &g->old_ids};
    int64_t sum = 0;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) sum += t[i]->pages_out * (int64_t)t[i]->page_bytes;
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        sum += (m[i]->pages_out + m[i]->slots.pages_out) * (int64_t)m[i]->slots.page_bytes;
    return sum;
}

/* A table of elem_bytes elements with this run's share of the budget. */
static int table_new(struct ingest *g, struct dtable *t, const char *what, size_t elem_bytes) {
    return dtable_init(t, what, elem_bytes, g->share_bytes, g->tmp_dir);
}

void ingest_rejects_path(const struct config *cfg, const char *catalog_path, char *out,
                         size_t out_size) {
    if (cfg->ingest.rejects_csv && cfg->ingest.rejects_csv[0])
        snprintf(out, out_size, "%s", cfg->ingest.rejects_csv);
    else
        snprintf(out, out_size, "%s.rejects.csv", catalog_path);
}

/* Records a reject; row-level rejects are known on every rank, so only rank 0
 * prints them (print != 0); image rejects are printed by the rank that saw them. */
static int reject(struct ingest *g, struct reject_list *list, int64_t line, const char *id,
                  const char *path, const char *reason, int print) {
    if (print)
        log_warn(STAGE, "%s:%lld: skipped product '%s' (image '%s'): %s", g->csv_path,
                 (long long)line, id ? id : "", path ? path : "", reason);
    return rejects_add(list, line, id ? id : "", path ? path : "", reason);
}

/* Field `col` of a record, "" when the record is too short. */
static const char *fld(const struct csv_row *r, int col) {
    return col >= 0 && (size_t)col < r->field_count ? r->fields[col] : "";
}

/* Reads CSV row ri again into *cr (valid until the next row_fetch) and, when
 * out is not NULL, its struct row. The id must hash as it did in load_csv:
 * the CSV must not change during a run. */
static int row_fetch(struct ingest *g, int64_t ri, struct csv_row *cr, struct row *out) {
    int rc = ST_OK, have = 0;
    struct row r;
    TRY(dtable_get(&g->rows, ri, &r));
    if (out) *out = r;
    TRY(csv_seek(g->rd, r.offset, r.line));
    int st = csv_next(g->rd, cr, &have);
    if (st == ST_ERR) TRY(st);
    uint64_t key[2] = {0, 0};
    if (have && st == ST_OK) id_key(fld(cr, g->id_col), key);
    REQUIRE(have && st == ST_OK && key[0] == r.idh[0] && key[1] == r.idh[1], ST_DATA,
            "%s:%lld: the CSV changed while ingest was running; rerun", g->csv_path,
            (long long)r.line);
fail:
    return rc;
}

/* --- 1. the CSV ---------------------------------------------------------- */

static int header_column(struct csv *c, const char *csv_path, const char *name, const char *key,
                         int *out) {
    *out = csv_column(c, name);
    if (*out >= 0) return ST_OK;
    const struct csv_row *h = csv_header(c);
    char cols[2048];
    size_t used = 0;
    cols[0] = '\0';
    for (size_t i = 0; i < h->field_count && used + 4 < sizeof cols; i++)
        used += (size_t)snprintf(cols + used, sizeof cols - used, "%s%s", i ? ", " : "",
                                 h->fields[i]);
    return err_set(ST_DATA,
                   "%s: column '%s' (%s) is not in the header; the header has: %s; set %s to one "
                   "of them",
                   csv_path, name, key, cols, key);
}

/* 0 when the field is fine; else writes a reason. Checks embedded NULs and UTF-8. */
static int field_bad(const struct csv_row *r, int col, const char *what, char *reason, size_t n) {
    if (col < 0 || (size_t)col >= r->field_count) return 0;
    if (strlen(r->fields[col]) != r->field_bytes[col]) {
        snprintf(reason, n, "NUL byte in %s", what);
        return 1;
    }
    if (!utf8_valid(r->fields[col], r->field_bytes[col])) {
        snprintf(reason, n, "invalid UTF-8 in %s", what);
        return 1;
    }
    return 0;
}

/* Streams the CSV and runs the row-level checks. Same result on every rank.
 * Keeps per record its line, offset and id hash (40 bytes, table `rows`) plus
 * 24-48 bytes of the duplicate-id map, both disk-backed; the fields are read
 * again when needed (row_fetch). */
static int load_csv(struct ingest *g) {
    int rc = ST_OK;
    const struct config *cfg = g->cfg;
    struct csv *c = NULL;
    int64_t name_limit = cfg->ingest.max_name_bytes;
    if (name_limit > CATALOG_NAME_BYTES - 1) name_limit = CATALOG_NAME_BYTES - 1;

    if (!fs_exists(g->csv_path))
        FAIL(ST_USAGE, "%s: CSV file not found; give the product CSV with --csv FILE or ingest.csv",
             g->csv_path);
    TRY(csv_open(g->csv_path, &c));
    TRY(csv_open(g->csv_path, &g->rd));
    TRY(header_column(c, g->csv_path, cfg->ingest.id_column, "ingest.id_column", &g->id_col));
    TRY(header_column(c, g->csv_path, cfg->ingest.name_column, "ingest.name_column", &g->name_col));
    TRY(header_column(c, g->csv_path, cfg->ingest.image_column, "ingest.image_column", &g->img_col));
    TRY_ALLOC(g->lev_col = calloc((size_t)g->L + 1, sizeof *g->lev_col));
    TRY_ALLOC(g->keep_col = calloc((size_t)g->K + 1, sizeof *g->keep_col));
    for (int l = 0; l < g->L; l++)
        TRY(header_column(c, g->csv_path, cfg->ingest.levels.items[l], "ingest.levels",
                          &g->lev_col[l]));
    for (int k = 0; k < g->K; k++)
        TRY(header_column(c, g->csv_path, cfg->ingest.keep_columns.items[k], "ingest.keep_columns",
                          &g->keep_col[k]));
    size_t header_fields = csv_header(c)->field_count;
    TRY(table_new(g, &g->rows, "csv records", sizeof(struct row)));
    TRY(dmap_init(&g->ids, "csv ids", 1024, g->share_bytes, g->tmp_dir));
    TRY(rejects_init(&g->rejects, g->share_bytes, g->tmp_dir));
    const int id_col = g->id_col, name_col = g->name_col, img_col = g->img_col;

    for (;;) {
        struct csv_row cr;
        int have = 0;
        int st = csv_next(c, &cr, &have);
        if (st == ST_ERR) TRY(st);
        if (!have) {
            if (st != ST_OK) {
                char why[1024];
                snprintf(why, sizeof why, "%s", err_msg());
                FAIL(ST_DATA, "%s; nothing was ingested", why);
            }
            break;
        }
        int64_t ri = g->n_rows++;
        TRY(dtable_resize(&g->rows, g->n_rows));
        struct row r;
        memset(&r, 0, sizeof r);
        r.line = cr.line;
        r.offset = cr.offset;
        const char *id = fld(&cr, id_col), *name = fld(&cr, name_col), *path = fld(&cr, img_col);
        char mine[CATALOG_ID_BYTES]; /* this row's id, kept while the first row is re-read */

        char reason[CATALOG_REASON_BYTES] = "";
        if (st == ST_DATA) {
            snprintf(reason, sizeof reason, "wrong number of columns (%zu, the header has %zu)",
                     cr.field_count, header_fields);
        } else if (!id[0]) {
            snprintf(reason, sizeof reason, "empty id");
        } else if (field_bad(&cr, id_col, "id", reason, sizeof reason)) {
        } else if (strlen(id) > CATALOG_ID_BYTES - 1) {
            snprintf(reason, sizeof reason, "id too long (%zu bytes > %d)", strlen(id),
                     CATALOG_ID_BYTES - 1);
        } else {
            id_key(id, r.idh);
            int64_t first;
            TRY(dmap_get(&g->ids, r.idh, &first));
            if (first >= 0) {
                /* Same 128-bit hash: confirm with the first row's own id. */
                snprintf(mine, sizeof mine, "%s", id);
                struct csv_row fr;
                struct row f;
                TRY(row_fetch(g, first, &fr, &f));
                REQUIRE(!strcmp(fld(&fr, id_col), mine), ST_ERR,
                        "%s:%lld: ids '%s' and '%s' (line %lld) have the same XXH3-128 hash; "
                        "rename one of them", g->csv_path, (long long)cr.line, mine,
                        fld(&fr, id_col), (long long)f.line);
                snprintf(reason, sizeof reason, "duplicate id (first on line %lld)",
                         (long long)f.line);
                id = mine; /* cr is still valid: row_fetch used the other reader */
            } else {
                TRY(dmap_put(&g->ids, r.idh, ri));
                if (field_bad(&cr, name_col, "name", reason, sizeof reason)) {
                } else if ((int64_t)strlen(name) > name_limit) {
                    snprintf(reason, sizeof reason, "name too long (%zu bytes > %lld)",
                             strlen(name), (long long)name_limit);
                } else if (field_bad(&cr, img_col, "image path", reason, sizeof reason)) {
                } else if (strlen(path) > CATALOG_PATH_BYTES - 1) {
                    snprintf(reason, sizeof reason, "image path too long (%zu bytes > %d)",
                             strlen(path), CATALOG_PATH_BYTES - 1);
                } else {
                    for (int l = 0; l < g->L && !reason[0]; l++) {
                        char what[200];
                        const char *lev = fld(&cr, g->lev_col[l]);
                        snprintf(what, sizeof what, "column '%s'", cfg->ingest.levels.items[l]);
                        if (field_bad(&cr, g->lev_col[l], what, reason, sizeof reason)) break;
                        if (strlen(lev) > CATALOG_CLASS_BYTES - 1)
                            snprintf(reason, sizeof reason,
                                     "category name too long in column '%s' (%zu bytes > %d)",
                                     cfg->ingest.levels.items[l], strlen(lev),
                                     CATALOG_CLASS_BYTES - 1);
                    }
                    for (int k = 0; k < g->K && !reason[0]; k++) {
                        char what[200];
                        snprintf(what, sizeof what, "column '%s'", cfg->ingest.keep_columns.items[k]);
                        field_bad(&cr, g->keep_col[k], what, reason, sizeof reason);
                    }
                }
            }
        }
        if (reason[0]) {
            r.rejected = 1;
            TRY(reject(g, &g->rejects, r.line, id, path, reason, g->rank == 0));
        }
        TRY(dtable_set(&g->rows, ri, &r));
    }
    g->counts.csv_rows = g->n_rows;
    TRY(table_new(g, &g->cands, "candidates", sizeof(struct cand)));
    for (int64_t i = 0; i < g->n_rows; i++) {
        struct row r;
        TRY(dtable_get(&g->rows, i, &r));
        if (r.rejected) continue;
        struct cand k;
        memset(&k, 0, sizeof k);
        k.ri = i;
        TRY(dtable_resize(&g->cands, g->n_cand + 1));
        TRY(dtable_set(&g->cands, g->n_cand++, &k));
    }
fail:
    csv_close(c);
    return rc;
}

/* --- 2. the old catalog (update) and the output arrays -------------------- */

static int alloc_rows(struct ingest *g, int64_t cap) {
    int rc = ST_OK;
    g->cap = cap;
    TRY(table_new(g, &g->prows, "catalog rows", sizeof(struct prow)));
    TRY(dtable_resize(&g->prows, cap));
    TRY(table_new(g, &g->labels, "labels", (size_t)(g->L ? g->L : 1) * sizeof(int32_t)));
    TRY(dtable_resize(&g->labels, cap));
    TRY_ALLOC(g->cls = calloc((size_t)g->L + 1, sizeof *g->cls));
    for (int l = 0; l < g->L; l++) TRY(idmap_init(&g->cls[l].map, 256));
fail:
    return rc;
}

/* XXH3-64 of a stored fixed-width name (up to its NUL). */
static uint64_t name_key(const char *fixed) { return hash64(fixed, strnlen(fixed, CATALOG_NAME_BYTES)); }

#define OLD_SLAB 4096 /* rows of the old catalog read at a time */
#define COL_SLAB 4096 /* rows of the fixed-size columns written per call */

/* One slab of the fixed-size per-product columns, as read from or written
 * to the catalog: `rows` rows of each. */
struct col_slab {
    int32_t *lab;               /* (rows, L) */
    uint8_t *hash;              /* (rows, 16) */
    uint8_t *st, *di, *ns;      /* (rows) status, dirty, needs_similarity */
    int64_t *line;              /* (rows) source_line */
};

/* Allocates every buffer of `s` for `rows` rows and L label levels (a zeroed
 * struct on entry); col_slab_free releases them, also after a partial
 * allocation. */
static int col_slab_alloc(struct col_slab *s, size_t rows, size_t L) {
    int rc = ST_OK;
    TRY_ALLOC(s->lab = malloc(rows * (L ? L : 1) * sizeof *s->lab));
    TRY_ALLOC(s->hash = malloc(rows * 16));
    TRY_ALLOC(s->st = malloc(rows));
    TRY_ALLOC(s->di = malloc(rows));
    TRY_ALLOC(s->ns = malloc(rows));
    TRY_ALLOC(s->line = malloc(rows * sizeof *s->line));
fail:
    return rc;
}

static void col_slab_free(struct col_slab *s) {
    free(s->lab);
    free(s->hash);
    free(s->st);
    free(s->di);
    free(s->ns);
    free(s->line);
}

/* REQUIREs that dataset `name` has `want` rows. */
static int check_rows(struct catalog *c, const char *name, int64_t want) {
    int rc = ST_OK, nd = 0;
    hsize_t dims[8];
    TRY(catalog_dims(c, name, &nd, dims));
    REQUIRE(nd >= 1 && (int64_t)dims[0] == want, ST_DATA,
            "%s: %s has %lld rows, /products/id %lld; the catalog is damaged", catalog_path(c), name,
            nd >= 1 ? (long long)dims[0] : 0LL, (long long)want);
fail:
    return rc;
}

/* Reads the old rows' columns in slabs of OLD_SLAB rows (every rank,
 * collective) into the prows and labels tables; of /products/id and
 * /products/name only the hashes are kept. */
static int load_old_rows(struct ingest *g, struct catalog *c, hid_t t_id, hid_t t_name) {
    int rc = ST_OK;
    const int64_t n = g->old_n;
    const size_t L = (size_t)g->L;
    char *buf = NULL;                   /* (OLD_SLAB, CATALOG_NAME_BYTES) ids, then names */
    uint64_t *idh = NULL;               /* (OLD_SLAB, 2) */
    struct col_slab cs = {0};           /* OLD_SLAB rows */
    int64_t ns_rows = 0;                /* rows of /products/needs_similarity (may be fewer) */
    TRY_ALLOC(buf = malloc((size_t)OLD_SLAB * CATALOG_NAME_BYTES));
    TRY_ALLOC(idh = malloc((size_t)OLD_SLAB * 2 * sizeof *idh));
    TRY(col_slab_alloc(&cs, OLD_SLAB, L));
    if (L) TRY(check_rows(c, "/products/labels", n));
    TRY(check_rows(c, "/products/hash", n));
    TRY(check_rows(c, "/products/status", n));
    TRY(check_rows(c, "/products/dirty", n));
    TRY(check_rows(c, "/products/source_line", n));
    /* A catalog from before the flag: no similarity run is known to cover any
     * row, so every old row needs one (docs/catalog-format.md); rows an
     * ingest from before the flag appended stay set. */
    if (catalog_exists(c, "/products/needs_similarity")) {
        int nd = 0;
        hsize_t dims[8];
        TRY(catalog_dims(c, "/products/needs_similarity", &nd, dims));
        ns_rows = nd >= 1 ? (int64_t)dims[0] : 0;
        REQUIRE(ns_rows <= n, ST_DATA, "%s: /products/needs_similarity has %lld rows, /products/id "
                "%lld; the catalog is damaged", catalog_path(c), (long long)ns_rows, (long long)n);
    }
    for (int64_t b = 0; b < n; b += OLD_SLAB) {
        int64_t cnt = n - b < OLD_SLAB ? n - b : OLD_SLAB;
        TRY(catalog_read_rows(c, "/products/id", t_id, b, cnt, buf));
        for (int64_t i = 0; i < cnt; i++) {
            char *id = buf + i * CATALOG_ID_BYTES;
            id[CATALOG_ID_BYTES - 1] = '\0';
            id_key(id, idh + 2 * i);
            int64_t dup;
            TRY(dmap_get(&g->old_ids, idh + 2 * i, &dup));
            REQUIRE(dup < 0, ST_DATA, "%s: id '%s' appears twice in /products/id", catalog_path(c), id);
            TRY(dmap_put(&g->old_ids, idh + 2 * i, b + i));
        }
        TRY(catalog_read_rows(c, "/products/name", t_name, b, cnt, buf));
        if (L) TRY(catalog_read_rows(c, "/products/labels", H5T_NATIVE_INT32, b, cnt, cs.lab));
        TRY(catalog_read_rows(c, "/products/hash", H5T_NATIVE_UINT8, b, cnt, cs.hash));
        TRY(catalog_read_rows(c, "/products/status", H5T_NATIVE_UINT8, b, cnt, cs.st));
        TRY(catalog_read_rows(c, "/products/dirty", H5T_NATIVE_UINT8, b, cnt, cs.di));
        TRY(catalog_read_rows(c, "/products/source_line", H5T_NATIVE_INT64, b, cnt, cs.line));
        memset(cs.ns, 1, OLD_SLAB);
        if (b < ns_rows)
            TRY(catalog_read_rows(c, "/products/needs_similarity", H5T_NATIVE_UINT8, b,
                                  ns_rows - b < cnt ? ns_rows - b : cnt, cs.ns));
        for (int64_t i = 0; i < cnt; i++) {
            struct prow p;
            char *name = buf + i * CATALOG_NAME_BYTES;
            name[CATALOG_NAME_BYTES - 1] = '\0';
            memset(&p, 0, sizeof p);
            memcpy(p.idh, idh + 2 * i, sizeof p.idh);
            memcpy(p.hash, cs.hash + i * 16, 16);
            p.nameh = name_key(name);
            p.line = cs.line[i];
            p.status = cs.st[i];
            p.dirty = cs.di[i];
            p.needs_sim = cs.ns[i];
            TRY(dtable_set(&g->prows, b + i, &p));
            if (L) TRY(dtable_set(&g->labels, b + i, cs.lab + (size_t)i * L));
        }
    }
fail:
    free(buf);
    free(idh);
    col_slab_free(&cs);
    return rc;
}

static int check_attr_str(struct catalog *c, const char *obj, const char *attr, const char *want,
                          const char *key) {
    int rc = ST_OK;
    char *have = NULL;
    TRY(catalog_get_attr_str(c, obj, attr, &have));
    REQUIRE(!strcmp(have, want), ST_USAGE,
            "%s was built with %s=%s; this run asks for %s: use the same setting, or build a new "
            "catalog (without --update)",
            catalog_path(c), key, have, want);
fail:
    free(have);
    return rc;
}

static int load_old(struct ingest *g, struct catalog *c) {
    int rc = ST_OK;
    hid_t t_id = -1, t_name = -1, t_cls = -1;
    char *levels = NULL, *names = NULL;
    int64_t nlev = 0;
    const struct config *cfg = g->cfg;
    g->old_n = catalog_count(c);
    TRY(alloc_rows(g, g->old_n + g->n_cand));
    TRY(dmap_init(&g->old_ids, "old ids", g->old_n, g->share_bytes, g->tmp_dir));
    if (!catalog_exists(c, "/products/id")) return ST_OK; /* an empty catalog */

    /* Settings that must not change between nights. */
    int64_t side = 0;
    TRY(catalog_get_attr_i64(c, "/images", "image_size", &side));
    REQUIRE(side == cfg->ingest.image_size, ST_USAGE,
            "%s was built with ingest.image_size=%lld; this run asks for %d: use the same setting, "
            "or build a new catalog (without --update)",
            catalog_path(c), (long long)side, cfg->ingest.image_size);
    TRY(check_attr_str(c, "/images", "fit", cfg->ingest.fit, "ingest.fit"));
    TRY(check_attr_str(c, "/images", "upscale", cfg->ingest.upscale, "ingest.upscale"));
    TRY_H5(t_id = catalog_str_type(CATALOG_ID_BYTES));
    TRY_H5(t_name = catalog_str_type(CATALOG_NAME_BYTES));
    TRY_H5(t_cls = catalog_str_type(CATALOG_CLASS_BYTES));
    TRY(catalog_read_all(c, "/categories/levels", t_cls, (void **)&levels, &nlev));
    int same = nlev == g->L;
    for (int l = 0; same && l < g->L; l++)
        same = !strncmp(levels + (size_t)l * CATALOG_CLASS_BYTES, cfg->ingest.levels.items[l],
                        CATALOG_CLASS_BYTES);
    REQUIRE(same, ST_USAGE,
            "%s was built with other category levels (%lld level(s), first '%s') than ingest.levels "
            "(%d): use the same levels, or build a new catalog (without --update)",
            catalog_path(c), (long long)nlev, nlev ? levels : "", g->L);

    TRY(load_old_rows(g, c, t_id, t_name));
    for (int l = 0; l < g->L; l++) {
        char name[256];
        int64_t count = 0;
        snprintf(name, sizeof name, "/categories/%s", cfg->ingest.levels.items[l]);
        if (!catalog_exists(c, name)) continue;
        TRY(catalog_read_all(c, name, t_cls, (void **)&names, &count));
        for (int64_t j = 0; j < count; j++) {
            char cname[CATALOG_CLASS_BYTES + 1];
            int32_t idx;
            memcpy(cname, names + j * CATALOG_CLASS_BYTES, CATALOG_CLASS_BYTES);
            cname[CATALOG_CLASS_BYTES] = '\0';
            TRY(classes_index(&g->cls[l], cname, &idx));
        }
        free(names);
        names = NULL;
    }
fail:
    free(levels);
    free(names);
    if (t_id >= 0) H5Tclose(t_id);
    if (t_name >= 0) H5Tclose(t_name);
    if (t_cls >= 0) H5Tclose(t_cls);
    return rc;
}

/* --- 3. pass A: read, hash, check ----------------------------------------- */

/* Checks the image `path` of the CSV record whose id hashes to idh: on
 * success *ok = 1 and hash set; on a bad image *ok = 0 and reason set.
 * ST_ERR only for failures that are not the data's. */
static int check_image(struct ingest *g, const uint64_t idh[2], const char *path, uint8_t hash[16],
                       int *ok, char *reason, size_t reason_size) {
    int rc = ST_OK;
    char *bytes = NULL;
    size_t nbytes = 0;
    struct image im = {0};
    double t_start = time_now();
    *ok = 0;
    int st = safepath_read(&g->root, path, &bytes, &nbytes);
    if (st == ST_DATA) {
        snprintf(reason, reason_size, "%s", err_msg());
        goto fail;
    }
    TRY(st);
    hash128(bytes, nbytes, hash);
    double t0 = time_now();
    g->tm[TM_A_READ] += t0 - t_start;
    int64_t old;
    TRY(dmap_get(&g->old_ids, idh, &old));
    if (old >= 0) {
        struct prow p;
        TRY(dtable_get(&g->prows, old, &p));
        if (!memcmp(p.hash, hash, 16)) {
            *ok = 1; /* same bytes as an image that was accepted before: no decode */
            goto fail;
        }
    }
    st = image_decode(bytes, nbytes, &g->iopt, &im);
    g->tm[TM_A_DECODE] += time_now() - t0;
    if (st == ST_DATA) {
        snprintf(reason, reason_size, "%s", err_msg());
        goto fail;
    }
    TRY(st);
    *ok = 1;
fail:
    image_free(&im);
    free(bytes);
    return rc;
}

/* Global progress estimate (local count * ranks) kept within the total. */
static int64_t clamp_done(int64_t done, int64_t total) { return done < total ? done : total; }

static int stop_check(void) {
    int stop = 0;
    int rc = signals_stop_agreed(&stop);
    if (rc != ST_OK) return rc;
    /* Every rank gets the same answer; agreeing makes the failure known. */
    return dist_agree(stop ? err_set(ST_INTERRUPTED, "stopped by a signal; nothing was written "
                                                     "(ingest is not resumable: a rerun starts over)")
                           : ST_OK);
}

/* The periodic check of a long loop, at the same iterations on every rank:
 * errors (st) and stop requests, with a non-blocking check-in between
 * (dist_checkin: a rank ahead does not wait for a rank behind at every
 * check, a failure or signal is acted on one interval later) and a blocking
 * agreement when a rank raised a flag and at the last check (`last`), so
 * that every rank leaves the loop knowing the outcome. */
static int checkin(struct dist_checkin *ci, int st, int last) {
    int rc = ST_OK;
    int64_t any = 0;
    TRY(dist_checkin_read(ci, &any));
    if (any || last) {
        TRY(dist_agree(st));
        TRY(stop_check());
    }
    if (!last) TRY(dist_checkin_post(ci, st != ST_OK || signals_stop_requested(NULL)));
fail:
    return rc;
}

#define XCHG_SLAB 4096 /* candidates per exchange of pass A's results */
#define XCHG_REC 17     /* bytes per candidate exchanged: flag + hash */

/* Gives every rank the (flag, hash) of every candidate, each rank having
 * filled its shard: in slabs of XCHG_SLAB candidates (one allgatherv each,
 * 17 bytes per candidate), so the buffers do not grow with the catalog.
 * Then the flags become 1 accepted / 0 rejected, and rejected candidates'
 * records are marked. */
static int exchange_checks(struct ingest *g) {
    int rc = ST_OK;
    uint8_t *send = NULL, *recv = NULL; /* (XCHG_SLAB, XCHG_REC) */
    int *cnt = NULL, *disp = NULL;      /* (size) bytes */
    int64_t b, e;
    dist_shard_range(g->n_cand, g->rank, g->size, &b, &e);
    TRY_ALLOC(send = malloc((size_t)XCHG_SLAB * XCHG_REC));
    TRY_ALLOC(recv = malloc((size_t)XCHG_SLAB * XCHG_REC));
    TRY_ALLOC(cnt = calloc((size_t)g->size, sizeof *cnt));
    TRY_ALLOC(disp = calloc((size_t)g->size, sizeof *disp));
    for (int64_t s0 = 0; s0 < g->n_cand; s0 += XCHG_SLAB) {
        int64_t s1 = s0 + XCHG_SLAB < g->n_cand ? s0 + XCHG_SLAB : g->n_cand;
        for (int r = 0; r < g->size; r++) {
            int64_t rb, re;
            dist_shard_range(g->n_cand, r, g->size, &rb, &re);
            int64_t lo = rb > s0 ? rb : s0, hi = re < s1 ? re : s1;
            cnt[r] = hi > lo ? (int)((hi - lo) * XCHG_REC) : 0;
            disp[r] = hi > lo ? (int)((lo - s0) * XCHG_REC) : 0;
        }
        int64_t lo = b > s0 ? b : s0;
        for (int64_t i = lo; i < (e < s1 ? e : s1); i++) {
            struct cand k;
            TRY(dtable_get(&g->cands, i, &k));
            uint8_t *p = send + (i - lo) * XCHG_REC;
            p[0] = (uint8_t)k.ok;
            memcpy(p + 1, k.hash, 16);
        }
        TRY_MPI(MPI_Allgatherv(send, cnt[g->rank], MPI_BYTE, recv, cnt, disp, MPI_BYTE, dist_comm()));
        for (int64_t i = s0; i < s1; i++) {
            struct cand k;
            const uint8_t *p = recv + (i - s0) * XCHG_REC;
            TRY(dtable_get(&g->cands, i, &k));
            REQUIRE(p[0] == 1 || p[0] == 2, ST_ERR, "internal: candidate %lld was not checked (flag %d)",
                    (long long)i, p[0]);
            k.ok = p[0] == 1;
            memcpy(k.hash, p + 1, 16);
            TRY(dtable_set(&g->cands, i, &k));
            if (!k.ok) {
                struct row r;
                TRY(dtable_get(&g->rows, k.ri, &r));
                r.rejected = 1;
                TRY(dtable_set(&g->rows, k.ri, &r));
            }
        }
    }
fail:
    free(send);
    free(recv);
    free(cnt);
    free(disp);
    return rc;
}

#define RJ_SLAB 64 /* reject records per broadcast */

/* Gives every rank pass A's rejects of every rank (local: this rank's, by
 * line) in slabs of RJ_SLAB records broadcast by their rank, in rank order
 * (so by line: the shards are in candidate order), then merges them with the
 * row-level rejects into g->rejects, by line. Memory: one slab. */
static int gather_rejects(struct ingest *g, struct reject_list *local) {
    int rc = ST_OK;
    int64_t *n_of = NULL;     /* (size) rejects per rank */
    struct reject *buf = NULL; /* (RJ_SLAB) */
    struct reject_list gathered, all; /* pass A's rejects of every rank, by line; the merge */
    memset(&gathered, 0, sizeof gathered);
    memset(&all, 0, sizeof all);
    TRY_ALLOC(n_of = calloc((size_t)g->size, sizeof *n_of));
    TRY_ALLOC(buf = malloc(RJ_SLAB * sizeof *buf));
    TRY(rejects_init(&gathered, g->share_bytes, g->tmp_dir));
    int64_t mine = local->count;
    TRY_MPI(MPI_Allgather(&mine, 1, MPI_INT64_T, n_of, 1, MPI_INT64_T, dist_comm()));
    for (int r = 0; r < g->size; r++)
        for (int64_t s0 = 0; s0 < n_of[r]; s0 += RJ_SLAB) {
            int64_t cnt = n_of[r] - s0 < RJ_SLAB ? n_of[r] - s0 : RJ_SLAB;
            for (int64_t i = 0; r == g->rank && i < cnt; i++) TRY(rejects_get(local, s0 + i, &buf[i]));
            TRY_MPI(MPI_Bcast(buf, (int)(cnt * (int64_t)sizeof *buf), MPI_BYTE, r, dist_comm()));
            for (int64_t i = 0; i < cnt; i++)
                TRY(rejects_add(&gathered, buf[i].line, buf[i].id, buf[i].path, buf[i].reason));
        }
    TRY(rejects_init(&all, g->share_bytes, g->tmp_dir));
    TRY(rejects_merge(&g->rejects, &gathered, &all));
    rejects_free(&g->rejects);
    g->rejects = all;
    memset(&all, 0, sizeof all);
fail:
    rejects_free(&gathered);
    rejects_free(&all);
    free(n_of);
    free(buf);
    return rc;
}

static int pass_a(struct ingest *g) {
    int rc = ST_OK;
    int64_t b, e;
    struct reject_list local; /* this rank's image rejects, by line */
    struct progress pr;
    memset(&local, 0, sizeof local);
    dist_shard_range(g->n_cand, g->rank, g->size, &b, &e);
    TRY(rejects_init(&local, g->share_bytes, g->tmp_dir));
    int64_t per_rank = (g->n_cand + g->size - 1) / g->size;
    int64_t batches = (per_rank + PASS_A_BATCH - 1) / PASS_A_BATCH;
    struct dist_checkin ci = DIST_CHECKIN_INIT;
    /* Each rank fills the (flag, hash) of its shard of the candidates table
     * (flag 1 ok, 2 rejected); exchange_checks then gives every rank all of
     * them. */
    progress_begin(&pr, STAGE, "images checked", g->n_cand);
    int st = ST_OK; /* this rank's; once failed it checks no more images */
    for (int64_t k = 0; k < batches; k++) {
        if (st == ST_OK) st = fault_point("ingest.batch");
        int64_t i0 = b + k * PASS_A_BATCH, i1 = i0 + PASS_A_BATCH < e ? i0 + PASS_A_BATCH : e;
        for (int64_t i = i0; st == ST_OK && i < i1; i++) {
            struct cand kd;
            struct row rw;
            struct csv_row cr;
            uint8_t hash[16];
            int ok = 0;
            char reason[CATALOG_REASON_BYTES] = "";
            double tf = time_now();
            st = dtable_get(&g->cands, i, &kd);
            if (st == ST_OK) st = row_fetch(g, kd.ri, &cr, &rw);
            g->tm[TM_A_READ] += time_now() - tf;
            if (st != ST_OK) break;
            const char *path = fld(&cr, g->img_col);
            st = check_image(g, rw.idh, path, hash, &ok, reason, sizeof reason);
            if (st != ST_OK) break;
            if (ok) {
                kd.ok = 1;
                memcpy(kd.hash, hash, 16);
            } else {
                kd.ok = 2;
                st = reject(g, &local, rw.line, fld(&cr, g->id_col), path, reason, 1);
            }
            if (st == ST_OK) st = dtable_set(&g->cands, i, &kd);
        }
        /* Errors and stop requests every PASS_A_SYNC batches (checkin). */
        if ((k + 1) % PASS_A_SYNC != 0 && k + 1 != batches) continue;
        double ts = time_now();
        TRY(checkin(&ci, st, k + 1 == batches));
        g->tm[TM_A_SYNC] += time_now() - ts;
        progress_update(&pr, clamp_done((i1 > b ? i1 - b : 0) * g->size, g->n_cand));
    }
    progress_end(&pr);
    double ts = time_now();
    TRY(exchange_checks(g)); /* a local failure ends the job (cli_fail_fast): no agreement inside collectives */

    TRY(gather_rejects(g, &local));
    g->tm[TM_A_SYNC] += time_now() - ts;
fail:
    rejects_free(&local);
    return rc;
}

/* --- 4. the final rows ---------------------------------------------------- */

/* Builds the final rows (identical on every rank) in the prows and labels
 * tables, then the pass B work list in ascending row order (HDF5 walks a
 * file selection in row order, so each batch's buffer must follow it): a
 * scan of the rows for the ones that got a candidate's pixels (work1), so
 * no sort of an O(N) list is needed. */
static int assemble(struct ingest *g) {
    int rc = ST_OK;
    int32_t *lab = NULL, *old_lab = NULL; /* (L) */
    struct ingest_counts *ct = &g->counts;
    const size_t lab_bytes = (size_t)g->L * sizeof *lab;
    g->n = g->old_n;
    TRY_ALLOC(lab = malloc((size_t)(g->L ? g->L : 1) * sizeof *lab));
    TRY_ALLOC(old_lab = malloc((size_t)(g->L ? g->L : 1) * sizeof *old_lab));
    for (int64_t i = 0; i < g->n_cand; i++) {
        struct cand k;
        TRY(dtable_get(&g->cands, i, &k));
        if (!k.ok) continue;
        struct csv_row cr;
        struct row rw;
        TRY(row_fetch(g, k.ri, &cr, &rw));
        ct->accepted++;
        for (int l = 0; l < g->L; l++) {
            const char *lev = fld(&cr, g->lev_col[l]);
            lab[l] = -1;
            if (lev[0]) TRY(classes_index(&g->cls[l], lev, &lab[l]));
        }
        char name[CATALOG_NAME_BYTES];
        rejects_copy_utf8(name, sizeof name, fld(&cr, g->name_col));
        uint64_t nameh = name_key(name);
        int64_t row;
        struct prow p;
        TRY(dmap_get(&g->old_ids, rw.idh, &row));
        int pixels = 0;
        if (row >= 0) {
            TRY(dtable_get(&g->prows, row, &p));
            if (g->L) TRY(dtable_get(&g->labels, row, old_lab));
            int hash_changed = memcmp(p.hash, k.hash, 16) != 0;
            int changed = hash_changed || p.nameh != nameh ||
                          (g->L && memcmp(old_lab, lab, lab_bytes));
            if (p.status == PRODUCT_REMOVED) {
                ct->reactivated++;
                p.needs_sim = 1; /* absent from the neighbour lists while removed */
            }
            if (changed) {
                ct->changed++;
                p.dirty = 1;
                p.needs_sim = 1;
            } else {
                ct->unchanged++;
            }
            pixels = hash_changed;
        } else {
            row = g->n++;
            TRY(dtable_get(&g->prows, row, &p));
            ct->new_count++;
            p.dirty = 1;
            p.needs_sim = 1;
            pixels = 1;
        }
        p.status = PRODUCT_ACTIVE;
        memcpy(p.idh, rw.idh, sizeof p.idh);
        p.nameh = nameh;
        p.src1 = k.ri + 1; /* id, name, path, attrs are written from this CSV row */
        memcpy(p.hash, k.hash, 16);
        p.line = rw.line;
        if (pixels) p.work1 = i + 1;
        TRY(dtable_set(&g->prows, row, &p));
        if (g->L) TRY(dtable_set(&g->labels, row, lab));
    }
    /* Products that were active and are absent from this CSV. A product whose
     * new row was rejected is present (its id is in the CSV): its old row stays. */
    for (int64_t row = 0; row < g->old_n; row++) {
        struct prow p;
        int64_t in_csv;
        TRY(dtable_get(&g->prows, row, &p));
        if (p.status != PRODUCT_ACTIVE) continue;
        TRY(dmap_get(&g->ids, p.idh, &in_csv));
        if (in_csv >= 0) continue;
        p.status = PRODUCT_REMOVED;
        TRY(dtable_set(&g->prows, row, &p));
        ct->removed++;
    }
    ct->rejected = (int64_t)g->rejects.count;
    ct->total_rows = g->n;
    TRY(table_new(g, &g->work, "pixel work", sizeof(struct work)));
    for (int64_t row = 0; row < g->n; row++) {
        struct prow p;
        TRY(dtable_get(&g->prows, row, &p));
        if (!p.work1) continue;
        struct work w = {p.work1 - 1, row};
        TRY(dtable_resize(&g->work, g->n_work + 1));
        TRY(dtable_set(&g->work, g->n_work++, &w));
    }
fail:
    free(lab);
    free(old_lab);
    return rc;
}

/* --- 5. pass B: decode, resize, write pixels ------------------------------ */

/* /images/pixels (n, S, S, 3) with chunks (4, S, S, 3), no fill (every row
 * gets written), grown to n rows when it exists. */
static int pixels_dataset(struct ingest *g, struct catalog *c) {
    int rc = ST_OK;
    hid_t space = -1, dcpl = -1, lcpl = -1, d = -1;
    hsize_t S = (hsize_t)g->cfg->ingest.image_size;
    if (catalog_exists(c, "/images/pixels")) return catalog_extend(c, "/images/pixels", g->n);
    hsize_t dims[4] = {(hsize_t)g->n, S, S, 3}, maxd[4] = {H5S_UNLIMITED, S, S, 3};
    hsize_t chunk[4] = {4, S, S, 3};
    TRY_H5(space = H5Screate_simple(4, dims, maxd));
    TRY_H5(dcpl = H5Pcreate(H5P_DATASET_CREATE));
    TRY_H5(H5Pset_chunk(dcpl, 4, chunk));
    TRY_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
    if (g->cfg->catalog.deflate > 0) TRY_H5(H5Pset_deflate(dcpl, (unsigned)g->cfg->catalog.deflate));
    TRY_H5(lcpl = H5Pcreate(H5P_LINK_CREATE));
    TRY_H5(H5Pset_create_intermediate_group(lcpl, 1));
    TRY_H5(d = H5Dcreate2(catalog_file(c), "/images/pixels", H5T_NATIVE_UINT8, space, lcpl, dcpl,
                          H5P_DEFAULT));
fail:
    if (d >= 0) H5Dclose(d);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return rc;
}

/* Writes `count` rows (ascending `rows`, buf (count, row) of `type`) to the
 * open dataset d (`name` in messages) with transfer list dxpl (collective:
 * every rank calls, count may be 0). */
static int write_row_list(struct catalog *c, const char *name, hid_t d, hid_t type, hid_t dxpl,
                          const int64_t *rows, int64_t count, const void *buf) {
    int rc = ST_OK;
    hid_t fs = -1, ms = -1;
    TRY(catalog_select_row_list(c, name, d, rows, count, &fs, &ms));
    TRY_H5(H5Dwrite(d, type, ms, fs, dxpl, buf));
fail:
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return rc;
}

/* Decodes and resizes candidate `ci` into dst (S, S, 3). */
static int render(struct ingest *g, struct resizer *rz, int64_t ci, uint8_t *dst) {
    int rc = ST_OK;
    struct cand k;
    struct row r = {0};
    struct csv_row cr;
    char path[CATALOG_PATH_BYTES];
    char *bytes = NULL;
    size_t nbytes = 0;
    struct image im = {0};
    uint8_t hash[16];
    double t0 = time_now(), t1, t2;
    path[0] = '\0';
    TRY(dtable_get(&g->cands, ci, &k));
    TRY(row_fetch(g, k.ri, &cr, &r));
    snprintf(path, sizeof path, "%s", fld(&cr, g->img_col));
    TRY(safepath_read(&g->root, path, &bytes, &nbytes));
    hash128(bytes, nbytes, hash);
    REQUIRE(!memcmp(hash, k.hash, 16), ST_DATA,
            "%s:%lld: image '%s' changed while ingest was running; rerun", g->csv_path,
            (long long)r.line, path);
    t1 = time_now();
    g->tm[TM_B_READ] += t1 - t0;
    TRY(image_decode(bytes, nbytes, &g->iopt, &im));
    t2 = time_now();
    g->tm[TM_B_DECODE] += t2 - t1;
    TRY(resizer_run(rz, im.pixels, im.width, im.height, dst));
    g->tm[TM_B_RESIZE] += time_now() - t2;
fail:
    if (rc != ST_OK && rc != ST_ERR)
        err_wrap(rc, "%s:%lld: image '%s'", g->csv_path, (long long)r.line, path);
    image_free(&im);
    free(bytes);
    return rc;
}

static int pass_b(struct ingest *g, struct catalog *c) {
    int rc = ST_OK;
    struct resizer *rz = NULL;
    uint8_t *buf = NULL; /* (bb, S, S, 3) */
    int64_t wrow[PASS_B_BATCH_MAX]; /* the batch's target rows, ascending */
    struct dist_checkin ci = DIST_CHECKIN_INIT;
    hid_t d = -1, dxpl = -1;
    struct progress pr;
    size_t S = (size_t)g->cfg->ingest.image_size, img_bytes = S * S * 3;
    /* Unfiltered chunks are all allocated when the dataset is created or
     * extended (parallel HDF5 allocates early), so each rank writes its own
     * whole chunks with independent I/O: no two-phase exchange, no lockstep;
     * the ranks check in on errors and stop requests every PASS_B_SYNC
     * batches (checkin: without waiting for each other, but at the end).
     * Filtered (deflate) chunks need collective writes: one per batch. */
    const int coll = g->cfg->catalog.deflate > 0;
    const int64_t bb = coll ? PASS_B_BATCH_COLL : PASS_B_BATCH;
    /* Shards of whole batches (bb is a multiple of the chunk's 4 rows): on a
     * fresh ingest (work i = row i) every rank writes whole chunks of its
     * own, never a chunk shared with another rank. */
    int64_t batches = (g->n_work + (int64_t)g->size * bb - 1) / ((int64_t)g->size * bb);
    int64_t per_rank = batches * bb;
    int64_t b = g->rank * per_rank, e = b + per_rank;
    if (b > g->n_work) b = g->n_work;
    if (e > g->n_work) e = g->n_work;
    int st = resizer_new(&g->ropt, &rz);
    if (st == ST_OK && !(buf = malloc((size_t)bb * img_bytes))) st = err_set(ST_ERR, "out of memory");
    TRY(dist_agree(st));
    TRY_H5(d = H5Dopen2(catalog_file(c), "/images/pixels", H5P_DEFAULT));
    TRY_H5(dxpl = H5Pcreate(H5P_DATASET_XFER));
    TRY_H5(H5Pset_dxpl_mpio(dxpl, coll ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT));
    progress_begin(&pr, STAGE, "images", g->n_work);
    for (int64_t k = 0; k < batches; k++) {
        int64_t i0 = b + k * bb < e ? b + k * bb : e;
        int64_t i1 = i0 + bb < e ? i0 + bb : e;
        if (st == ST_OK) st = fault_point("ingest.batch");
        for (int64_t i = i0; st == ST_OK && i < i1; i++) {
            struct work w = {0, 0};
            st = dtable_get(&g->work, i, &w);
            if (st == ST_OK) st = render(g, rz, w.cand, buf + (size_t)(i - i0) * img_bytes);
            wrow[i - i0] = w.row;
        }
        double ts = time_now();
        if (coll) TRY(dist_agree(st));
        double tw = time_now();
        if (st == ST_OK && (coll || i1 > i0))
            st = write_row_list(c, "/images/pixels", d, H5T_NATIVE_UINT8, dxpl, wrow, i1 - i0, buf);
        double te = time_now();
        if (coll) {
            TRY(dist_agree(st));
            TRY(stop_check());
        } else if ((k + 1) % PASS_B_SYNC == 0 || k + 1 == batches) {
            TRY(checkin(&ci, st, k + 1 == batches));
        }
        g->tm[TM_B_WRITE] += te - tw;
        g->tm[TM_B_SYNC] += (tw - ts) + (time_now() - te);
        progress_update(&pr, clamp_done((i1 - b) * g->size, g->n_work));
    }
    progress_end(&pr);
    g->counts.images_written = g->n_work;
fail:
    if (dxpl >= 0) H5Pclose(dxpl);
    if (d >= 0) H5Dclose(d);
    resizer_free(rz);
    free(buf);
    return rc;
}

/* --- 6. the per-product datasets, categories, attributes ------------------ */

/* Creates or grows a per-product dataset to n rows. A new one is zero-filled
 * unless every row of it is written by this run (all_rows): then the fill,
 * a second write of the whole column, is skipped. */
static int column_dataset(struct ingest *g, struct catalog *c, const char *name, hid_t type,
                          int ndims, hsize_t inner, int all_rows) {
    if (catalog_exists(c, name)) return catalog_extend(c, name, g->n);
    hsize_t dims[2] = {(hsize_t)g->n, inner};
    return catalog_create_dataset(c, name, type, ndims, dims, NULL,
                                  CATALOG_EXTENDIBLE | (all_rows ? CATALOG_NO_FILL : 0),
                                  g->cfg->catalog.deflate);
}

/* Creates or grows the fixed-size per-product datasets (labels, hash,
 * status, dirty, needs_similarity, source_line) and writes them from the
 * prows and labels tables (identical on every rank): each rank writes its own
 * row range in slabs of COL_SLAB rows, one collective call per column and
 * slab (every rank makes as many calls as the longest range needs). */
static int write_fixed(struct ingest *g, struct catalog *c) {
    int rc = ST_OK;
    const size_t L = (size_t)g->L;
    struct col_slab cs = {0};                   /* COL_SLAB rows */
    int64_t b, e, slabs = 0;
    if (L) TRY(column_dataset(g, c, "/products/labels", H5T_NATIVE_INT32, 2, (hsize_t)L, 1));
    TRY(column_dataset(g, c, "/products/hash", H5T_NATIVE_UINT8, 2, 16, 1));
    TRY(column_dataset(g, c, "/products/status", H5T_NATIVE_UINT8, 1, 0, 1));
    TRY(column_dataset(g, c, "/products/dirty", H5T_NATIVE_UINT8, 1, 0, 1));
    TRY(column_dataset(g, c, "/products/needs_similarity", H5T_NATIVE_UINT8, 1, 0, 1));
    TRY(column_dataset(g, c, "/products/source_line", H5T_NATIVE_INT64, 1, 0, 1));
    TRY(col_slab_alloc(&cs, COL_SLAB, L));
    for (int r = 0; r < g->size; r++) {
        dist_shard_range(g->n, r, g->size, &b, &e);
        int64_t k = (e - b + COL_SLAB - 1) / COL_SLAB;
        if (k > slabs) slabs = k;
    }
    dist_shard_range(g->n, g->rank, g->size, &b, &e);
    for (int64_t s = 0; s < slabs; s++) {
        int64_t b0 = b + s * COL_SLAB < e ? b + s * COL_SLAB : e;
        int64_t cnt = e - b0 < COL_SLAB ? e - b0 : COL_SLAB;
        for (int64_t i = 0; i < cnt; i++) {
            struct prow p;
            TRY(dtable_get(&g->prows, b0 + i, &p));
            if (L) TRY(dtable_get(&g->labels, b0 + i, cs.lab + (size_t)i * L));
            memcpy(cs.hash + i * 16, p.hash, 16);
            cs.st[i] = p.status;
            cs.di[i] = p.dirty;
            cs.ns[i] = p.needs_sim;
            cs.line[i] = p.line;
        }
        if (L) TRY(catalog_write_rows(c, "/products/labels", H5T_NATIVE_INT32, b0, cnt, cs.lab));
        TRY(catalog_write_rows(c, "/products/hash", H5T_NATIVE_UINT8, b0, cnt, cs.hash));
        TRY(catalog_write_rows(c, "/products/status", H5T_NATIVE_UINT8, b0, cnt, cs.st));
        TRY(catalog_write_rows(c, "/products/dirty", H5T_NATIVE_UINT8, b0, cnt, cs.di));
        TRY(catalog_write_rows(c, "/products/needs_similarity", H5T_NATIVE_UINT8, b0, cnt, cs.ns));
        TRY(catalog_write_rows(c, "/products/source_line", H5T_NATIVE_INT64, b0, cnt, cs.line));
    }
fail:
    col_slab_free(&cs);
    return rc;
}

#define STR_SLAB 4096 /* rows of the string columns written per call */

/* One slab of string column `col` (0 id, 1 name, 2 image_path, 3 + k attrs):
 * collective with deflate (filtered chunks need it), else independent into
 * the dataset opened (collectively) in d[col]. */
static int write_str_slab(struct ingest *g, struct catalog *c, char **dnames, const hid_t *d,
                          int col, hid_t type, const int64_t *rows, int64_t count,
                          const void *buf) {
    if (g->cfg->catalog.deflate > 0)
        return catalog_write_row_list(c, dnames[col], type, rows, count, buf);
    /* Unfiltered: an independent write (H5P_DEFAULT) - parallel HDF5 writes
     * such chunks through (no chunk cache), so two ranks may write different
     * rows of one chunk without a collective. */
    if (count == 0) return ST_OK;
    return write_row_list(c, dnames[col], d[col], type, H5P_DEFAULT, rows, count, buf);
}

/* The string columns (id, name, image_path, attrs/<col>) of the rows this
 * run wrote (src1 > 0): each rank takes the rows of its row range, reads
 * their fields again from the CSV and writes them in slabs of STR_SLAB rows
 * (one row-list write per column and slab, independent unless deflated;
 * the other rows keep what the work copy has). Memory: STR_SLAB * (64 + 256 + 512 + 128 K)
 * bytes, whatever the catalog's size. */
static int write_strings(struct ingest *g, struct catalog *c, hid_t t_id, hid_t t_name,
                         hid_t t_path, hid_t t_attr) {
    int rc = ST_OK;
    char *ids = NULL, *names = NULL, *paths = NULL, *attrs = NULL; /* (STR_SLAB, width) each */
    int64_t *rows = NULL;                                           /* (STR_SLAB) ascending */
    char **dn = NULL;                                               /* (3 + K) dataset names */
    hid_t *d = NULL;                                                /* (3 + K) open datasets */
    const int n_col = 3 + g->K;
    const struct config *cfg = g->cfg;
    int64_t b, e;
    TRY_ALLOC(ids = malloc((size_t)STR_SLAB * CATALOG_ID_BYTES));
    TRY_ALLOC(names = malloc((size_t)STR_SLAB * CATALOG_NAME_BYTES));
    TRY_ALLOC(paths = malloc((size_t)STR_SLAB * CATALOG_PATH_BYTES));
    TRY_ALLOC(attrs = malloc((size_t)STR_SLAB * CATALOG_ATTR_BYTES * (size_t)(g->K ? g->K : 1)));
    TRY_ALLOC(rows = malloc((size_t)STR_SLAB * sizeof *rows));
    TRY_ALLOC(dn = calloc((size_t)n_col, sizeof *dn));
    TRY_ALLOC(d = malloc((size_t)n_col * sizeof *d));
    for (int i = 0; i < n_col; i++) d[i] = -1;
    TRY_ALLOC(dn[0] = strdup("/products/id"));
    TRY_ALLOC(dn[1] = strdup("/products/name"));
    TRY_ALLOC(dn[2] = strdup("/products/image_path"));
    for (int k = 0; k < g->K; k++) {
        char name[256];
        snprintf(name, sizeof name, "/products/attrs/%s", cfg->ingest.keep_columns.items[k]);
        TRY_ALLOC(dn[3 + k] = strdup(name));
    }
    for (int i = 0; i < n_col; i++) {
        hid_t t = i == 0 ? t_id : i == 1 ? t_name : i == 2 ? t_path : t_attr;
        TRY(column_dataset(g, c, dn[i], t, 1, 0, g->old_n == 0));
        if (cfg->catalog.deflate <= 0) TRY_H5(d[i] = H5Dopen2(catalog_file(c), dn[i], H5P_DEFAULT));
    }
    dist_shard_range(g->n, g->rank, g->size, &b, &e);
    int64_t mine = 0;
    for (int64_t i = b; i < e; i++) {
        struct prow p;
        TRY(dtable_get(&g->prows, i, &p));
        mine += p.src1 > 0;
    }
    int64_t slabs = (mine + STR_SLAB - 1) / STR_SLAB;
    const int coll = cfg->catalog.deflate > 0;
    /* Collective writes need the same number of calls on every rank. */
    if (coll) TRY_MPI(MPI_Allreduce(MPI_IN_PLACE, &slabs, 1, MPI_INT64_T, MPI_MAX, dist_comm()));
    int64_t next = b;
    int st = ST_OK;
    for (int64_t s = 0; s < slabs && (st == ST_OK || coll); s++) {
        int64_t cnt = 0;
        for (; next < e && cnt < STR_SLAB && st == ST_OK; next++) {
            struct prow p;
            struct csv_row cr;
            st = dtable_get(&g->prows, next, &p);
            if (st != ST_OK) break;
            if (!p.src1) continue;
            st = row_fetch(g, p.src1 - 1, &cr, NULL);
            if (st != ST_OK) break;
            rows[cnt] = next;
            rejects_copy_utf8(ids + cnt * CATALOG_ID_BYTES, CATALOG_ID_BYTES, fld(&cr, g->id_col));
            rejects_copy_utf8(names + cnt * CATALOG_NAME_BYTES, CATALOG_NAME_BYTES,
                              fld(&cr, g->name_col));
            rejects_copy_utf8(paths + cnt * CATALOG_PATH_BYTES, CATALOG_PATH_BYTES,
                              fld(&cr, g->img_col));
            for (int k = 0; k < g->K; k++)
                rejects_copy_utf8(attrs + ((size_t)k * STR_SLAB + (size_t)cnt) * CATALOG_ATTR_BYTES,
                                  CATALOG_ATTR_BYTES, fld(&cr, g->keep_col[k]));
            cnt++;
        }
        if (coll) TRY(dist_agree(st));
        if (st != ST_OK) break;
        st = write_str_slab(g, c, dn, d, 0, t_id, rows, cnt, ids);
        if (st == ST_OK) st = write_str_slab(g, c, dn, d, 1, t_name, rows, cnt, names);
        if (st == ST_OK) st = write_str_slab(g, c, dn, d, 2, t_path, rows, cnt, paths);
        for (int k = 0; k < g->K && st == ST_OK; k++)
            st = write_str_slab(g, c, dn, d, 3 + k, t_attr, rows, cnt,
                                attrs + (size_t)k * STR_SLAB * CATALOG_ATTR_BYTES);
        if (coll) TRY(dist_agree(st));
    }
    TRY(dist_agree(st));
fail:
    for (int i = 0; d && i < n_col; i++)
        if (d[i] >= 0) H5Dclose(d[i]);
    for (int i = 0; dn && i < n_col; i++) free(dn[i]);
    free(dn);
    free(d);
    free(ids);
    free(names);
    free(paths);
    free(attrs);
    free(rows);
    return rc;
}

static int write_tables(struct ingest *g, struct catalog *c) {
    int rc = ST_OK;
    hid_t t_id = -1, t_name = -1, t_cls = -1, t_path = -1, t_attr = -1, s = -1, a = -1, o = -1;
    char *buf = NULL;
    const struct config *cfg = g->cfg;
    TRY_H5(t_id = catalog_str_type(CATALOG_ID_BYTES));
    TRY_H5(t_name = catalog_str_type(CATALOG_NAME_BYTES));
    TRY_H5(t_cls = catalog_str_type(CATALOG_CLASS_BYTES));
    TRY_H5(t_path = catalog_str_type(CATALOG_PATH_BYTES));
    TRY_H5(t_attr = catalog_str_type(CATALOG_ATTR_BYTES));
    double t0 = time_now();
    TRY(write_strings(g, c, t_id, t_name, t_path, t_attr));
    double t1 = time_now();
    TRY(write_fixed(g, c));
    double t2 = time_now();

    /* /categories: levels and one class table per level (appended, never reordered). */
    size_t most = (size_t)(g->L ? g->L : 1);
    for (int l = 0; l < g->L; l++)
        if ((size_t)g->cls[l].count > most) most = (size_t)g->cls[l].count;
    TRY_ALLOC(buf = calloc(most, CATALOG_CLASS_BYTES));
    for (int l = 0; l < g->L; l++)
        rejects_copy_utf8(buf + (size_t)l * CATALOG_CLASS_BYTES, CATALOG_CLASS_BYTES,
                          cfg->ingest.levels.items[l]);
    hsize_t dims[1] = {(hsize_t)g->L};
    TRY(catalog_write_small(c, "/categories/levels", t_cls, 1, dims, buf));
    for (int l = 0; l < g->L; l++) {
        char name[256];
        memset(buf, 0, most * CATALOG_CLASS_BYTES);
        for (int64_t j = 0; j < g->cls[l].count; j++)
            rejects_copy_utf8(buf + j * CATALOG_CLASS_BYTES, CATALOG_CLASS_BYTES, g->cls[l].names[j]);
        snprintf(name, sizeof name, "/categories/%s", cfg->ingest.levels.items[l]);
        dims[0] = (hsize_t)g->cls[l].count;
        TRY(catalog_write_small(c, name, t_cls, 1, dims, buf));
    }

    /* /images attributes. */
    TRY(catalog_set_attr_i64(c, "/images", "image_size", cfg->ingest.image_size));
    TRY(catalog_set_attr_str(c, "/images", "fit", cfg->ingest.fit));
    TRY(catalog_set_attr_str(c, "/images", "upscale", cfg->ingest.upscale));
    int64_t bg[3] = {cfg->ingest.background[0], cfg->ingest.background[1], cfg->ingest.background[2]};
    hsize_t three = 3;
    TRY_H5(o = H5Oopen(catalog_file(c), "/images", H5P_DEFAULT));
    if (H5Aexists(o, "background") > 0) TRY_H5(H5Adelete(o, "background"));
    TRY_H5(s = H5Screate_simple(1, &three, NULL));
    TRY_H5(a = H5Acreate2(o, "background", H5T_NATIVE_INT64, s, H5P_DEFAULT, H5P_DEFAULT));
    TRY_H5(H5Awrite(a, H5T_NATIVE_INT64, bg));
    TRY(catalog_mark_complete(c, "/images"));
    TRY(catalog_mark_complete(c, "/products"));
    TRY(catalog_mark_complete(c, "/categories"));
    log_debug(STAGE, "rank %d tables (s): strings %.3f, fixed-size columns %.3f, categories and "
                     "attributes %.3f", g->rank, t1 - t0, t2 - t1, time_now() - t2);
fail:
    free(buf);
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    if (o >= 0) H5Oclose(o);
    if (t_id >= 0) H5Tclose(t_id);
    if (t_name >= 0) H5Tclose(t_name);
    if (t_cls >= 0) H5Tclose(t_cls);
    if (t_path >= 0) H5Tclose(t_path);
    if (t_attr >= 0) H5Tclose(t_attr);
    return rc;
}

/* --- the run ------------------------------------------------------------ */

static int setup(struct ingest *g, const struct config *cfg) {
    int rc = ST_OK;
    g->cfg = cfg;
    g->csv_path = cfg->ingest.csv;
    g->L = cfg->ingest.levels.count;
    g->K = cfg->ingest.keep_columns.count;
    g->rank = dist_rank();
    g->size = dist_size();
    for (int k = 0; k < g->K; k++)
        REQUIRE(!strchr(cfg->ingest.keep_columns.items[k], '/') && cfg->ingest.keep_columns.items[k][0],
                ST_USAGE, "ingest.keep_columns: '%s' cannot name a dataset (empty or has '/')",
                cfg->ingest.keep_columns.items[k]);
    for (int l = 0; l < g->L; l++)
        REQUIRE(!strchr(cfg->ingest.levels.items[l], '/') && cfg->ingest.levels.items[l][0] &&
                    strcmp(cfg->ingest.levels.items[l], "levels"),
                ST_USAGE, "ingest.levels: '%s' cannot name a class table (empty, 'levels' or has '/')",
                cfg->ingest.levels.items[l]);
    int st = safepath_root_init(&g->root, cfg->ingest.images_root, cfg->ingest.allow_outside_root);
    if (st != ST_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", err_msg());
        FAIL(st, "images root: %s; give the images folder with --images DIR or ingest.images_root",
             why);
    }
    g->root_ok = 1;
    image_opts_default(&g->iopt);
    g->iopt.max_pixels = (uint64_t)cfg->ingest.max_pixels;
    for (int i = 0; i < 3; i++) g->iopt.background[i] = (uint8_t)cfg->ingest.background[i];
    resize_opts_default(&g->ropt);
    g->ropt.side = cfg->ingest.image_size;
    TRY(resize_fit_parse(cfg->ingest.fit, &g->ropt.fit));
    TRY(resize_filter_parse(cfg->ingest.upscale, &g->ropt.filter));
    memcpy(g->ropt.background, g->iopt.background, 3);
fail:
    return rc;
}

/* The tables' temporary files go to the catalog's folder (where the work
 * copy is, so on the file system the run already writes to); each table's
 * cache is an equal share of ingest.table_memory_kib. */
static void tables_setup(struct ingest *g, const char *catalog_path) {
    fs_dirname(catalog_path, g->tmp_dir, sizeof g->tmp_dir);
    g->share_bytes = (size_t)g->cfg->ingest.table_memory_kib * 1024 / TABLE_SHARES;
}

/* This process's peak resident memory so far (VmHWM of /proc/self/status,
 * KiB; children such as the catalog probe are not counted), -1 without /proc. */
static long long peak_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kib = strtoll(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

static int metrics(struct ingest *g, struct catalog *c, struct run_record *run) {
    int rc = ST_OK;
    const struct ingest_counts *ct = &g->counts;
    char json[1024], grp[160];
    snprintf(json, sizeof json,
             "{\"csv_rows\": %lld, \"accepted\": %lld, \"new\": %lld, \"changed\": %lld, "
             "\"removed\": %lld, \"unchanged\": %lld, \"rejected\": %lld, \"reactivated\": %lld, "
             "\"images_written\": %lld, \"rows\": %lld}",
             (long long)ct->csv_rows, (long long)ct->accepted, (long long)ct->new_count,
             (long long)ct->changed, (long long)ct->removed, (long long)ct->unchanged,
             (long long)ct->rejected, (long long)ct->reactivated, (long long)ct->images_written,
             (long long)ct->total_rows);
    TRY(run_set_metrics(run, json));
    snprintf(grp, sizeof grp, "/runs/%s", run->id);
    TRY(catalog_set_attr_i64(c, grp, "new", ct->new_count));
    TRY(catalog_set_attr_i64(c, grp, "changed", ct->changed));
    TRY(catalog_set_attr_i64(c, grp, "removed", ct->removed));
    TRY(catalog_set_attr_i64(c, grp, "unchanged", ct->unchanged));
    TRY(catalog_set_attr_i64(c, grp, "rejected", ct->rejected));
fail:
    return rc;
}

int ingest_run(const struct config *cfg, const char *catalog_path, int update,
               struct ingest_counts *counts) {
    int rc = ST_OK;
    struct ingest g;
    struct catalog_txn txn;
    struct run_record run;
    int in_txn = 0, in_run = 0;
    char rejects_csv[FS_PATH_MAX];
    memset(&g, 0, sizeof g);
    memset(&txn, 0, sizeof txn);
    memset(&run, 0, sizeof run);
    ingest_rejects_path(cfg, catalog_path, rejects_csv, sizeof rejects_csv);
    double t0 = time_now();

    int st = setup(&g, cfg);
    tables_setup(&g, catalog_path);
    if (st == ST_OK) {
        int exists = fs_exists(catalog_path);
        if (exists && !update)
            st = err_set(ST_USAGE, "%s exists; pass --update to update it, or remove it to build a "
                                   "new catalog", catalog_path);
        else if (!exists && update)
            st = err_set(ST_USAGE, "%s: no such catalog to update; run without --update to create it",
                         catalog_path);
    }
    if (st == ST_OK) st = load_csv(&g);
    TRY(dist_agree(st));
    double t_parse = time_now() - t0;
    log_info(STAGE, "%s: %lld rows, %lld passed the row checks", g.csv_path,
             (long long)g.n_rows, (long long)g.n_cand);

    double tb = time_now();
    TRY(dist_agree(catalog_begin(catalog_path, STAGE, !update, &txn)));
    in_txn = 1;
    if (txn.resumed) {
        /* A work copy left by a killed ingest: ingest does not resume, so it
         * is discarded and the catalog copied afresh. */
        log_info(STAGE, "discarding the work copy of an interrupted ingest (ingest starts over)");
        catalog_abort(&txn, 1);
        in_txn = 0;
        TRY(dist_agree(catalog_begin(catalog_path, STAGE, !update, &txn)));
        in_txn = 1;
    }
    double tl = time_now();
    TRY(dist_agree(load_old(&g, txn.cat)));
    TRY(dist_agree(run_begin(txn.cat, STAGE, cfg, &run)));
    in_run = 1;

    double t1 = time_now();
    TRY(pass_a(&g));
    double ta = time_now();
    TRY(dist_agree(assemble(&g)));
    double t_check = time_now() - t1;
    double t_begin = tl - tb, t_old = t1 - tl, t_pass_a = ta - t1, t_assemble = time_now() - ta;

    double ratio = g.n_rows ? (double)g.counts.rejected / (double)g.n_rows : 0.0;
    if (ratio > cfg->ingest.max_reject_ratio) {
        st = g.rank == 0 ? rejects_write_csv(&g.rejects, rejects_csv) : ST_OK;
        TRY(dist_agree(st));
        TRY(dist_agree(err_set(ST_DATA,
             "%s: %lld of %lld rows rejected (%.1f%% > ingest.max_reject_ratio %.1f%%); nothing was "
             "written; the reasons are in %s",
             g.csv_path, (long long)g.counts.rejected, (long long)g.n_rows, 100.0 * ratio,
             100.0 * cfg->ingest.max_reject_ratio, rejects_csv)));
    }
    log_info(STAGE, "%lld accepted (%lld new, %lld changed, %lld unchanged), %lld removed, "
                    "%lld rejected; %lld images to decode and resize",
             (long long)g.counts.accepted, (long long)g.counts.new_count,
             (long long)g.counts.changed, (long long)g.counts.unchanged,
             (long long)g.counts.removed, (long long)g.counts.rejected, (long long)g.n_work);

    double t2 = time_now();
    TRY(dist_agree(pixels_dataset(&g, txn.cat)));
    TRY(pass_b(&g, txn.cat));
    double t_pixels = time_now() - t2;

    double t3 = time_now();
    TRY(dist_agree(write_tables(&g, txn.cat)));
    double t_tables = time_now() - t3;
    TRY(dist_agree(rejects_write_h5(&g.rejects, txn.cat, run.id)));
    double t_write = time_now() - t3;
    double tm[4] = {t_parse, t_check, t_pixels, t_write};
    TRY_MPI(MPI_Allreduce(MPI_IN_PLACE, tm, 4, MPI_DOUBLE, MPI_MAX, dist_comm()));
    run_add_timing(&run, "parse", tm[0]);
    run_add_timing(&run, "check", tm[1]);
    run_add_timing(&run, "decode_resize_write", tm[2]);
    run_add_timing(&run, "write_tables", tm[3]);
    log_info(STAGE, "rank %d phases (s): a_read_hash %.2f, a_decode %.2f, a_sync %.2f, b_read_hash "
                    "%.2f, b_decode %.2f, b_resize %.2f, b_write %.2f, b_sync %.2f; parse %.2f",
             g.rank, g.tm[TM_A_READ], g.tm[TM_A_DECODE], g.tm[TM_A_SYNC], g.tm[TM_B_READ],
             g.tm[TM_B_DECODE], g.tm[TM_B_RESIZE], g.tm[TM_B_WRITE], g.tm[TM_B_SYNC], t_parse);
    TRY_MPI(MPI_Allreduce(MPI_IN_PLACE, g.tm, TM_COUNT, MPI_DOUBLE, MPI_MAX, dist_comm()));
    for (int i = 0; i < TM_COUNT; i++) run_add_timing(&run, tm_names[i], g.tm[i]);
    TRY(dist_agree(metrics(&g, txn.cat, &run)));
    in_run = 0;
    TRY(dist_agree(run_end(txn.cat, &run)));
    double tc = time_now();
    TRY(dist_agree(catalog_commit(&txn)));
    in_txn = 0;
    /* Where the time goes outside the image loops, this rank (every rank does
     * the serial parts itself; collective parts wait for the slowest rank). */
    log_debug(STAGE, "rank %d serial/collective phases (s): parse %.3f, begin (copy) %.3f, "
                     "load_old %.3f, pass_a %.3f, assemble %.3f, pixels %.3f, tables %.3f, "
                     "rejects %.3f, commit %.3f",
              g.rank, t_parse, t_begin, t_old, t_pass_a, t_assemble, t_pixels, t_tables,
              t_write - t_tables, time_now() - tc);
    st = g.rank == 0 ? rejects_write_csv(&g.rejects, rejects_csv) : ST_OK;
    TRY(dist_agree(st));
    /* Whether the tables stayed within their budget or spilled (the
     * ingest_spill test looks for this line). */
    int64_t spill = spilled_bytes(&g);
    log_debug(STAGE, "rank %d tables: %lld KiB written to temporary files in %s "
                     "(ingest.table_memory_kib %lld); peak RSS %lld KiB (VmHWM)", g.rank,
              (long long)(spill / 1024), g.tmp_dir, (long long)cfg->ingest.table_memory_kib,
              peak_rss_kib());
    if (spill)
        log_info(STAGE, "tables over ingest.table_memory_kib = %lld: %lld KiB spilled to temporary "
                        "files in %s", (long long)cfg->ingest.table_memory_kib,
                 (long long)(spill / 1024), g.tmp_dir);
    log_info(STAGE, "%s: %lld products (%lld rows in the catalog) in %.1f s; rejects in %s",
             catalog_path, (long long)g.counts.accepted, (long long)g.n, time_now() - t0,
             rejects_csv);
    if (counts) *counts = g.counts;
fail:
    if (in_run) run_free(&run);
    /* Collective cleanup only when every rank knows of the failure;
     * otherwise the command's cli_fail_fast ends the job (the catalog is
     * untouched either way: only the work copy was written). */
    if (in_txn && (dist_size() == 1 || dist_failure_agreed())) catalog_abort(&txn, 1);
    ingest_free(&g);
    return rc;
}
