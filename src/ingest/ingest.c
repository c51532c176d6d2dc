/* ingest.c - the ingest stage (see ingest.h and docs/ingest.md).
 *
 * Flow, every rank in step:
 *   1. parse the whole CSV, row-level checks (identical on every rank);
 *   2. begin the transaction (work copy); on --update read the old rows;
 *   3. pass A over a shard of the candidate rows: resolve the path, read the
 *      file once, XXH3-128, decode to check (skipped when the hash equals the
 *      stored one); exchange accept flags + hashes (allreduce) and reject
 *      records (allgatherv);
 *   4. assemble the final rows (identical everywhere), the reject ratio check;
 *   5. pass B over a shard of the rows needing pixels: decode + resize, one
 *      collective write per batch of a few images (bounded memory);
 *   6. rank 0 writes the per-product datasets, categories, rejects, run record;
 *      commit.
 */
#include "ingest/ingest.h"

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
#include "util/check.h"
#include "util/fault.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/signals.h"

#define STAGE "ingest"
#define PASS_A_BATCH 64 /* candidates checked per fault point */
#define PASS_A_SYNC 4   /* batches between agreements / stop polls */
#define PASS_B_BATCH 32  /* images per rank per write (a multiple of the chunk's 4 rows) */
#define PASS_B_SYNC 8    /* batches between agreements (unfiltered pixels) */

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

struct row {
    int64_t line;
    char *id, *name, *path; /* owned */
    char **lev;             /* (L) owned */
    char **keep;            /* (K) owned */
    int rejected;           /* 1 once a reject was recorded for it */
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
    TM_B_WRITE,    /* pass B: collective H5Dwrite of the batch */
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

    struct row *rows;        /* (n_rows) every data record, CSV order */
    int64_t n_rows, cap_rows;
    struct idmap ids;        /* CSV id -> row index of its first valid occurrence */
    int64_t *cand;           /* (n_cand) row indices that passed the row checks */
    int64_t n_cand;
    struct reject_list rejects;

    struct safepath_root root;
    int root_ok;
    struct image_opts iopt;
    struct resize_opts ropt;

    /* The catalog rows after this run (old rows first on --update). */
    int64_t old_n, n, cap;
    struct idmap old_ids;    /* old id -> row */
    char *p_id;              /* (cap, 64) */
    char *p_name;            /* (cap, 256) */
    int32_t *p_labels;       /* (cap, L) */
    uint8_t *p_hash;         /* (cap, 16) XXH3-128, big-endian */
    uint8_t *p_status;       /* (cap) */
    uint8_t *p_dirty;        /* (cap) */
    uint8_t *p_needs_sim;    /* (cap) 1 = new/changed since the last similarity run */
    char *p_path;            /* (cap, 512) */
    int64_t *p_line;         /* (cap) */
    char **p_attrs;          /* (K) each (cap, 128) */
    struct classes *cls;     /* (L) */

    uint8_t *cand_ok;        /* (n_cand) 1 accepted after pass A */
    uint8_t *cand_hash;      /* (n_cand, 16) */
    int64_t *work_cand;      /* (n_work) candidate whose pixels go to work_row */
    int64_t *work_row;       /* (n_work) ascending */
    int64_t n_work;

    struct ingest_counts counts;
    double tm[TM_COUNT];     /* this rank's seconds per phase (enum tm_phase) */
};

static void row_free(struct ingest *g, struct row *r) {
    free(r->id);
    free(r->name);
    free(r->path);
    for (int l = 0; r->lev && l < g->L; l++) free(r->lev[l]);
    for (int k = 0; r->keep && k < g->K; k++) free(r->keep[k]);
    free(r->lev);
    free(r->keep);
}

static void ingest_free(struct ingest *g) {
    for (int64_t i = 0; i < g->n_rows; i++) row_free(g, &g->rows[i]);
    free(g->rows);
    idmap_free(&g->ids);
    idmap_free(&g->old_ids);
    free(g->cand);
    rejects_free(&g->rejects);
    if (g->root_ok) safepath_root_free(&g->root);
    free(g->p_id);
    free(g->p_name);
    free(g->p_labels);
    free(g->p_hash);
    free(g->p_status);
    free(g->p_dirty);
    free(g->p_needs_sim);
    free(g->p_path);
    free(g->p_line);
    for (int k = 0; g->p_attrs && k < g->K; k++) free(g->p_attrs[k]);
    free(g->p_attrs);
    for (int l = 0; g->cls && l < g->L; l++) classes_free(&g->cls[l]);
    free(g->cls);
    free(g->cand_ok);
    free(g->cand_hash);
    free(g->work_cand);
    free(g->work_row);
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
static int reject(struct ingest *g, struct reject_list *list, const struct row *r, const char *id,
                  const char *path, const char *reason, int print) {
    if (print)
        log_warn(STAGE, "%s:%lld: skipped product '%s' (image '%s'): %s", g->csv_path,
                 (long long)r->line, id ? id : "", path ? path : "", reason);
    return rejects_add(list, r->line, id ? id : "", path ? path : "", reason);
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

/* Copy of a field, or "" when the row is too short. */
static char *field_dup(const struct csv_row *r, int col) {
    if (col < 0 || (size_t)col >= r->field_count) return strdup("");
    return strdup(r->fields[col]);
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

/* Parses the CSV and runs the row-level checks. Same result on every rank. */
static int load_csv(struct ingest *g) {
    int rc = ST_OK;
    const struct config *cfg = g->cfg;
    struct csv *c = NULL;
    int *lev_col = NULL, *keep_col = NULL;
    int id_col, name_col, img_col;
    int64_t name_limit = cfg->ingest.max_name_bytes;
    if (name_limit > CATALOG_NAME_BYTES - 1) name_limit = CATALOG_NAME_BYTES - 1;

    if (!fs_exists(g->csv_path))
        FAIL(ST_USAGE, "%s: CSV file not found; give the product CSV with --csv FILE or ingest.csv",
             g->csv_path);
    TRY(csv_open(g->csv_path, &c));
    TRY(header_column(c, g->csv_path, cfg->ingest.id_column, "ingest.id_column", &id_col));
    TRY(header_column(c, g->csv_path, cfg->ingest.name_column, "ingest.name_column", &name_col));
    TRY(header_column(c, g->csv_path, cfg->ingest.image_column, "ingest.image_column", &img_col));
    lev_col = calloc((size_t)g->L + 1, sizeof *lev_col);
    keep_col = calloc((size_t)g->K + 1, sizeof *keep_col);
    TRY_ALLOC(lev_col);
    TRY_ALLOC(keep_col);
    for (int l = 0; l < g->L; l++)
        TRY(header_column(c, g->csv_path, cfg->ingest.levels.items[l], "ingest.levels", &lev_col[l]));
    for (int k = 0; k < g->K; k++)
        TRY(header_column(c, g->csv_path, cfg->ingest.keep_columns.items[k], "ingest.keep_columns",
                          &keep_col[k]));
    size_t header_fields = csv_header(c)->field_count;
    TRY(idmap_init(&g->ids, 1024));

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
        if (g->n_rows == g->cap_rows) {
            int64_t cap = g->cap_rows ? g->cap_rows * 2 : 1024;
            struct row *p = realloc(g->rows, (size_t)cap * sizeof *p);
            TRY_ALLOC(p);
            g->rows = p;
            g->cap_rows = cap;
        }
        struct row *r = &g->rows[g->n_rows++];
        memset(r, 0, sizeof *r);
        r->line = cr.line;
        r->id = field_dup(&cr, id_col);
        r->name = field_dup(&cr, name_col);
        r->path = field_dup(&cr, img_col);
        r->lev = calloc((size_t)g->L + 1, sizeof *r->lev);
        r->keep = calloc((size_t)g->K + 1, sizeof *r->keep);
        TRY_ALLOC(r->id);
        TRY_ALLOC(r->name);
        TRY_ALLOC(r->path);
        TRY_ALLOC(r->lev);
        TRY_ALLOC(r->keep);
        for (int l = 0; l < g->L; l++) TRY_ALLOC(r->lev[l] = field_dup(&cr, lev_col[l]));
        for (int k = 0; k < g->K; k++) TRY_ALLOC(r->keep[k] = field_dup(&cr, keep_col[k]));

        char reason[CATALOG_REASON_BYTES] = "";
        if (st == ST_DATA) {
            snprintf(reason, sizeof reason, "wrong number of columns (%zu, the header has %zu)",
                     cr.field_count, header_fields);
        } else if (!r->id[0]) {
            snprintf(reason, sizeof reason, "empty id");
        } else if (field_bad(&cr, id_col, "id", reason, sizeof reason)) {
        } else if (strlen(r->id) > CATALOG_ID_BYTES - 1) {
            snprintf(reason, sizeof reason, "id too long (%zu bytes > %d)", strlen(r->id),
                     CATALOG_ID_BYTES - 1);
        } else {
            int64_t first = idmap_get(&g->ids, r->id);
            if (first >= 0) {
                snprintf(reason, sizeof reason, "duplicate id (first on line %lld)",
                         (long long)g->rows[first].line);
            } else {
                TRY(idmap_put(&g->ids, r->id, g->n_rows - 1));
                if (field_bad(&cr, name_col, "name", reason, sizeof reason)) {
                } else if ((int64_t)strlen(r->name) > name_limit) {
                    snprintf(reason, sizeof reason, "name too long (%zu bytes > %lld)",
                             strlen(r->name), (long long)name_limit);
                } else if (field_bad(&cr, img_col, "image path", reason, sizeof reason)) {
                } else if (strlen(r->path) > CATALOG_PATH_BYTES - 1) {
                    snprintf(reason, sizeof reason, "image path too long (%zu bytes > %d)",
                             strlen(r->path), CATALOG_PATH_BYTES - 1);
                } else {
                    for (int l = 0; l < g->L && !reason[0]; l++) {
                        char what[200];
                        snprintf(what, sizeof what, "column '%s'", cfg->ingest.levels.items[l]);
                        if (field_bad(&cr, lev_col[l], what, reason, sizeof reason)) break;
                        if (strlen(r->lev[l]) > CATALOG_CLASS_BYTES - 1)
                            snprintf(reason, sizeof reason,
                                     "category name too long in column '%s' (%zu bytes > %d)",
                                     cfg->ingest.levels.items[l], strlen(r->lev[l]),
                                     CATALOG_CLASS_BYTES - 1);
                    }
                    for (int k = 0; k < g->K && !reason[0]; k++) {
                        char what[200];
                        snprintf(what, sizeof what, "column '%s'", cfg->ingest.keep_columns.items[k]);
                        field_bad(&cr, keep_col[k], what, reason, sizeof reason);
                    }
                }
            }
        }
        if (reason[0]) {
            r->rejected = 1;
            TRY(reject(g, &g->rejects, r, r->id, r->path, reason, g->rank == 0));
        }
    }
    g->counts.csv_rows = g->n_rows;
    g->cand = malloc((size_t)(g->n_rows ? g->n_rows : 1) * sizeof *g->cand);
    TRY_ALLOC(g->cand);
    for (int64_t i = 0; i < g->n_rows; i++)
        if (!g->rows[i].rejected) g->cand[g->n_cand++] = i;
fail:
    free(lev_col);
    free(keep_col);
    csv_close(c);
    return rc;
}

/* --- 2. the old catalog (update) and the output arrays -------------------- */

static int alloc_rows(struct ingest *g, int64_t cap) {
    int rc = ST_OK;
    size_t n = (size_t)(cap ? cap : 1);
    g->cap = cap;
    TRY_ALLOC(g->p_id = calloc(n, CATALOG_ID_BYTES));
    TRY_ALLOC(g->p_name = calloc(n, CATALOG_NAME_BYTES));
    TRY_ALLOC(g->p_labels = calloc(n * (size_t)(g->L ? g->L : 1), sizeof *g->p_labels));
    TRY_ALLOC(g->p_hash = calloc(n, 16));
    TRY_ALLOC(g->p_status = calloc(n, 1));
    TRY_ALLOC(g->p_dirty = calloc(n, 1));
    TRY_ALLOC(g->p_needs_sim = calloc(n, 1));
    TRY_ALLOC(g->p_path = calloc(n, CATALOG_PATH_BYTES));
    TRY_ALLOC(g->p_line = calloc(n, sizeof *g->p_line));
    TRY_ALLOC(g->p_attrs = calloc((size_t)g->K + 1, sizeof *g->p_attrs));
    for (int k = 0; k < g->K; k++) TRY_ALLOC(g->p_attrs[k] = calloc(n, CATALOG_ATTR_BYTES));
    TRY_ALLOC(g->cls = calloc((size_t)g->L + 1, sizeof *g->cls));
    for (int l = 0; l < g->L; l++) TRY(idmap_init(&g->cls[l].map, 256));
fail:
    return rc;
}

/* Reads a whole dataset of `row_bytes` per row into dst (old_n rows). */
static int read_into(struct catalog *c, const char *name, hid_t type, void *dst, size_t row_bytes,
                     int64_t old_n) {
    int rc = ST_OK;
    void *buf = NULL;
    int64_t rows = 0;
    TRY(catalog_read_all(c, name, type, &buf, &rows));
    REQUIRE(rows == old_n, ST_DATA, "%s: %s has %lld rows, /products/id %lld; the catalog is damaged",
            catalog_path(c), name, (long long)rows, (long long)old_n);
    if (old_n) memcpy(dst, buf, (size_t)old_n * row_bytes);
fail:
    free(buf);
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
    hid_t t_id = -1, t_name = -1, t_cls = -1, t_path = -1, t_attr = -1;
    char *levels = NULL, *names = NULL;
    int64_t nlev = 0;
    const struct config *cfg = g->cfg;
    g->old_n = catalog_count(c);
    TRY(alloc_rows(g, g->old_n + g->n_cand));
    TRY(idmap_init(&g->old_ids, (size_t)g->old_n));
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
    TRY_H5(t_path = catalog_str_type(CATALOG_PATH_BYTES));
    TRY_H5(t_attr = catalog_str_type(CATALOG_ATTR_BYTES));
    TRY(catalog_read_all(c, "/categories/levels", t_cls, (void **)&levels, &nlev));
    int same = nlev == g->L;
    for (int l = 0; same && l < g->L; l++)
        same = !strncmp(levels + (size_t)l * CATALOG_CLASS_BYTES, cfg->ingest.levels.items[l],
                        CATALOG_CLASS_BYTES);
    REQUIRE(same, ST_USAGE,
            "%s was built with other category levels (%lld level(s), first '%s') than ingest.levels "
            "(%d): use the same levels, or build a new catalog (without --update)",
            catalog_path(c), (long long)nlev, nlev ? levels : "", g->L);

    int64_t n = g->old_n;
    TRY(read_into(c, "/products/id", t_id, g->p_id, CATALOG_ID_BYTES, n));
    TRY(read_into(c, "/products/name", t_name, g->p_name, CATALOG_NAME_BYTES, n));
    if (g->L) TRY(read_into(c, "/products/labels", H5T_NATIVE_INT32, g->p_labels,
                            (size_t)g->L * sizeof(int32_t), n));
    TRY(read_into(c, "/products/hash", H5T_NATIVE_UINT8, g->p_hash, 16, n));
    TRY(read_into(c, "/products/status", H5T_NATIVE_UINT8, g->p_status, 1, n));
    TRY(read_into(c, "/products/dirty", H5T_NATIVE_UINT8, g->p_dirty, 1, n));
    /* A catalog from before the flag: no similarity run is known to cover any
     * row, so every old row needs one (docs/catalog-format.md). */
    if (n) memset(g->p_needs_sim, 1, (size_t)n);
    if (catalog_exists(c, "/products/needs_similarity")) {
        /* rows an ingest from before the flag appended stay set */
        uint8_t *ns = NULL;
        int64_t ns_rows = 0;
        TRY(catalog_read_all(c, "/products/needs_similarity", H5T_NATIVE_UINT8, (void **)&ns, &ns_rows));
        if (ns_rows <= n) memcpy(g->p_needs_sim, ns, (size_t)ns_rows);
        free(ns);
        REQUIRE(ns_rows <= n, ST_DATA, "%s: /products/needs_similarity has %lld rows, /products/id %lld; "
                "the catalog is damaged", catalog_path(c), (long long)ns_rows, (long long)n);
    }
    TRY(read_into(c, "/products/image_path", t_path, g->p_path, CATALOG_PATH_BYTES, n));
    TRY(read_into(c, "/products/source_line", H5T_NATIVE_INT64, g->p_line, sizeof(int64_t), n));
    for (int k = 0; k < g->K; k++) {
        char name[256];
        snprintf(name, sizeof name, "/products/attrs/%s", cfg->ingest.keep_columns.items[k]);
        if (catalog_exists(c, name))
            TRY(read_into(c, name, t_attr, g->p_attrs[k], CATALOG_ATTR_BYTES, n));
    }
    for (int64_t i = 0; i < n; i++) {
        char *id = g->p_id + i * CATALOG_ID_BYTES;
        id[CATALOG_ID_BYTES - 1] = '\0';
        REQUIRE(idmap_get(&g->old_ids, id) < 0, ST_DATA, "%s: id '%s' appears twice in /products/id",
                catalog_path(c), id);
        TRY(idmap_put(&g->old_ids, id, i));
    }
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
    if (t_path >= 0) H5Tclose(t_path);
    if (t_attr >= 0) H5Tclose(t_attr);
    return rc;
}

/* --- 3. pass A: read, hash, check ----------------------------------------- */

/* Checks candidate row r: on success *ok = 1 and hash set; on a bad image
 * *ok = 0 and reason set. ST_ERR only for failures that are not the data's. */
static int check_image(struct ingest *g, const struct row *r, uint8_t hash[16], int *ok,
                       char *reason, size_t reason_size) {
    int rc = ST_OK;
    char *abs = NULL, *bytes = NULL;
    size_t nbytes = 0;
    struct image im = {0};
    double t_start = time_now();
    *ok = 0;
    int st = safepath_resolve(&g->root, r->path, &abs);
    if (st == ST_DATA) {
        snprintf(reason, reason_size, "%s", err_msg());
        goto fail;
    }
    TRY(st);
    if (fs_read_all(abs, &bytes, &nbytes) != ST_OK) {
        snprintf(reason, reason_size, "unreadable file");
        goto fail;
    }
    hash128(bytes, nbytes, hash);
    double t0 = time_now();
    g->tm[TM_A_READ] += t0 - t_start;
    int64_t old = idmap_get(&g->old_ids, r->id);
    if (old >= 0 && !memcmp(g->p_hash + old * 16, hash, 16)) {
        *ok = 1; /* same bytes as an image that was accepted before: no decode */
        goto fail;
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
    free(abs);
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

static int pass_a(struct ingest *g) {
    int rc = ST_OK;
    int64_t b, e;
    int64_t *xa = NULL;                  /* (n_cand, 3): flag (1 ok, 2 rejected), hash hi, lo */
    struct reject_list local = {0};
    struct reject *all = NULL;
    int *counts = NULL, *displs = NULL;
    struct progress pr;
    dist_shard_range(g->n_cand, g->rank, g->size, &b, &e);
    int64_t per_rank = (g->n_cand + g->size - 1) / g->size;
    int64_t batches = (per_rank + PASS_A_BATCH - 1) / PASS_A_BATCH;
    TRY_ALLOC(xa = calloc((size_t)(g->n_cand ? g->n_cand : 1) * 3, sizeof *xa));
    progress_begin(&pr, STAGE, "images checked", g->n_cand);
    int st = ST_OK; /* this rank's; once failed it checks no more images */
    for (int64_t k = 0; k < batches; k++) {
        if (st == ST_OK) st = fault_point("ingest.batch");
        int64_t i0 = b + k * PASS_A_BATCH, i1 = i0 + PASS_A_BATCH < e ? i0 + PASS_A_BATCH : e;
        for (int64_t i = i0; st == ST_OK && i < i1; i++) {
            const struct row *r = &g->rows[g->cand[i]];
            uint8_t hash[16];
            int ok = 0;
            char reason[CATALOG_REASON_BYTES] = "";
            st = check_image(g, r, hash, &ok, reason, sizeof reason);
            if (st != ST_OK) break;
            if (ok) {
                xa[i * 3] = 1;
                memcpy(&xa[i * 3 + 1], hash, 16);
            } else {
                xa[i * 3] = 2;
                st = reject(g, &local, r, r->id, r->path, reason, 1);
            }
        }
        /* Agreement (errors, stop requests) every PASS_A_SYNC batches: each
         * one waits for the slowest rank, which costs on a busy machine. */
        if ((k + 1) % PASS_A_SYNC != 0 && k + 1 != batches) continue;
        double ts = time_now();
        TRY(dist_agree(st));
        TRY(stop_check());
        g->tm[TM_A_SYNC] += time_now() - ts;
        progress_update(&pr, clamp_done((i1 > b ? i1 - b : 0) * g->size, g->n_cand));
    }
    progress_end(&pr);
    double ts = time_now();
    TRY(dist_allreduce_sum_i64(xa, (size_t)g->n_cand * 3));

    /* Reject records of every rank, as bytes. */
    TRY_ALLOC(counts = calloc((size_t)g->size, sizeof *counts));
    TRY_ALLOC(displs = calloc((size_t)g->size, sizeof *displs));
    int mine = (int)(local.count * sizeof(struct reject));
    TRY_MPI(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, dist_comm()));
    int64_t total = 0;
    for (int i = 0; i < g->size; i++) {
        displs[i] = (int)total;
        total += counts[i];
    }
    TRY_ALLOC(all = malloc((size_t)(total ? total : 1)));
    TRY_MPI(MPI_Allgatherv(local.items ? (void *)local.items : (void *)all, mine, MPI_BYTE, all,
                           counts, displs, MPI_BYTE, dist_comm()));
    for (size_t i = 0; i < (size_t)total / sizeof(struct reject); i++)
        TRY(rejects_add(&g->rejects, all[i].line, all[i].id, all[i].path, all[i].reason));

    TRY_ALLOC(g->cand_ok = calloc((size_t)(g->n_cand ? g->n_cand : 1), 1));
    TRY_ALLOC(g->cand_hash = calloc((size_t)(g->n_cand ? g->n_cand : 1), 16));
    for (int64_t i = 0; i < g->n_cand; i++) {
        REQUIRE(xa[i * 3] == 1 || xa[i * 3] == 2, ST_ERR,
                "internal: candidate %lld checked %lld times", (long long)i, (long long)xa[i * 3]);
        g->cand_ok[i] = xa[i * 3] == 1;
        if (g->cand_ok[i]) memcpy(g->cand_hash + i * 16, &xa[i * 3 + 1], 16);
        else g->rows[g->cand[i]].rejected = 1;
    }
    g->tm[TM_A_SYNC] += time_now() - ts;
fail:
    free(xa);
    free(all);
    free(counts);
    free(displs);
    rejects_free(&local);
    return rc;
}

/* --- 4. the final rows ---------------------------------------------------- */

static int by_row(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static int assemble(struct ingest *g) {
    int rc = ST_OK;
    int64_t *pairs = NULL; /* (n_work, 2): candidate, row */
    int32_t *lab = NULL;
    struct ingest_counts *ct = &g->counts;
    g->n = g->old_n;
    TRY_ALLOC(pairs = malloc((size_t)(g->n_cand ? g->n_cand : 1) * 2 * sizeof *pairs));
    TRY_ALLOC(lab = malloc((size_t)(g->L ? g->L : 1) * sizeof *lab));
    int64_t n_work = 0;
    for (int64_t i = 0; i < g->n_cand; i++) {
        if (!g->cand_ok[i]) continue;
        const struct row *r = &g->rows[g->cand[i]];
        const uint8_t *hash = g->cand_hash + i * 16;
        ct->accepted++;
        for (int l = 0; l < g->L; l++) {
            lab[l] = -1;
            if (r->lev[l][0]) TRY(classes_index(&g->cls[l], r->lev[l], &lab[l]));
        }
        char name[CATALOG_NAME_BYTES];
        rejects_copy_utf8(name, sizeof name, r->name);
        int64_t row = idmap_get(&g->old_ids, r->id);
        int pixels = 0;
        if (row >= 0) {
            int hash_changed = memcmp(g->p_hash + row * 16, hash, 16) != 0;
            int changed = hash_changed ||
                          memcmp(g->p_name + row * CATALOG_NAME_BYTES, name, sizeof name) != 0 ||
                          (g->L && memcmp(g->p_labels + row * g->L, lab, (size_t)g->L * sizeof *lab));
            if (g->p_status[row] == PRODUCT_REMOVED) {
                ct->reactivated++;
                g->p_needs_sim[row] = 1; /* absent from the neighbour lists while removed */
            }
            if (changed) {
                ct->changed++;
                g->p_dirty[row] = 1;
                g->p_needs_sim[row] = 1;
            } else {
                ct->unchanged++;
            }
            pixels = hash_changed;
        } else {
            row = g->n++;
            ct->new_count++;
            g->p_dirty[row] = 1;
            g->p_needs_sim[row] = 1;
            rejects_copy_utf8(g->p_id + row * CATALOG_ID_BYTES, CATALOG_ID_BYTES, r->id);
            pixels = 1;
        }
        g->p_status[row] = PRODUCT_ACTIVE;
        memcpy(g->p_name + row * CATALOG_NAME_BYTES, name, sizeof name);
        if (g->L) memcpy(g->p_labels + row * g->L, lab, (size_t)g->L * sizeof *lab);
        memcpy(g->p_hash + row * 16, hash, 16);
        rejects_copy_utf8(g->p_path + row * CATALOG_PATH_BYTES, CATALOG_PATH_BYTES, r->path);
        g->p_line[row] = r->line;
        for (int k = 0; k < g->K; k++)
            rejects_copy_utf8(g->p_attrs[k] + row * CATALOG_ATTR_BYTES, CATALOG_ATTR_BYTES,
                              r->keep[k]);
        if (pixels) {
            pairs[n_work * 2] = i;
            pairs[n_work * 2 + 1] = row;
            n_work++;
        }
    }
    /* Products that were active and are absent from this CSV. A product whose
     * new row was rejected is present (its id is in the CSV): its old row stays. */
    for (int64_t row = 0; row < g->old_n; row++) {
        if (g->p_status[row] != PRODUCT_ACTIVE) continue;
        if (idmap_get(&g->ids, g->p_id + row * CATALOG_ID_BYTES) >= 0) continue;
        g->p_status[row] = PRODUCT_REMOVED;
        ct->removed++;
    }
    ct->rejected = (int64_t)g->rejects.count;
    ct->total_rows = g->n;
    /* Pixel work in ascending row order: HDF5 walks a file selection in row
     * order, so each batch's buffer must follow it. */
    qsort(pairs, (size_t)n_work, 2 * sizeof *pairs, by_row);
    TRY_ALLOC(g->work_cand = malloc((size_t)(n_work ? n_work : 1) * sizeof *g->work_cand));
    TRY_ALLOC(g->work_row = malloc((size_t)(n_work ? n_work : 1) * sizeof *g->work_row));
    for (int64_t i = 0; i < n_work; i++) {
        g->work_cand[i] = pairs[i * 2];
        g->work_row[i] = pairs[i * 2 + 1];
    }
    g->n_work = n_work;
fail:
    free(pairs);
    free(lab);
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

/* Collective write of `count` images (buf (count, S, S, 3)) to the ascending
 * rows `rows`; count may be 0. */
static int write_pixels(hid_t d, hid_t dxpl, const int64_t *rows, int64_t count, hsize_t S,
                        const uint8_t *buf) {
    int rc = ST_OK;
    hid_t fs = -1, ms = -1;
    TRY_H5(fs = H5Dget_space(d));
    if (count == 0) {
        hsize_t one[4] = {1, S, S, 3};
        TRY_H5(ms = H5Screate_simple(4, one, NULL));
        TRY_H5(H5Sselect_none(ms));
        TRY_H5(H5Sselect_none(fs));
    } else {
        hsize_t md[4] = {(hsize_t)count, S, S, 3};
        TRY_H5(ms = H5Screate_simple(4, md, NULL));
        int first = 1;
        for (int64_t i = 0; i < count;) {
            int64_t j = i + 1;
            while (j < count && rows[j] == rows[j - 1] + 1) j++;
            hsize_t start[4] = {(hsize_t)rows[i], 0, 0, 0}, cnt[4] = {(hsize_t)(j - i), S, S, 3};
            TRY_H5(H5Sselect_hyperslab(fs, first ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, cnt,
                                       NULL));
            first = 0;
            i = j;
        }
    }
    TRY_H5(H5Dwrite(d, H5T_NATIVE_UINT8, ms, fs, dxpl, buf));
fail:
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return rc;
}

/* Decodes and resizes candidate `ci` into dst (S, S, 3). */
static int render(struct ingest *g, struct resizer *rz, int64_t ci, uint8_t *dst) {
    int rc = ST_OK;
    const struct row *r = &g->rows[g->cand[ci]];
    char *abs = NULL, *bytes = NULL;
    size_t nbytes = 0;
    struct image im = {0};
    uint8_t hash[16];
    double t0 = time_now(), t1, t2;
    TRY(safepath_resolve(&g->root, r->path, &abs));
    TRY(fs_read_all(abs, &bytes, &nbytes));
    hash128(bytes, nbytes, hash);
    REQUIRE(!memcmp(hash, g->cand_hash + ci * 16, 16), ST_DATA,
            "%s:%lld: image '%s' changed while ingest was running; rerun", g->csv_path,
            (long long)r->line, r->path);
    t1 = time_now();
    g->tm[TM_B_READ] += t1 - t0;
    TRY(image_decode(bytes, nbytes, &g->iopt, &im));
    t2 = time_now();
    g->tm[TM_B_DECODE] += t2 - t1;
    TRY(resizer_run(rz, im.pixels, im.width, im.height, dst));
    g->tm[TM_B_RESIZE] += time_now() - t2;
fail:
    if (rc != ST_OK && rc != ST_ERR)
        err_wrap(rc, "%s:%lld: image '%s'", g->csv_path, (long long)r->line, r->path);
    image_free(&im);
    free(abs);
    free(bytes);
    return rc;
}

static int pass_b(struct ingest *g, struct catalog *c) {
    int rc = ST_OK;
    struct resizer *rz = NULL;
    uint8_t *buf = NULL; /* (PASS_B_BATCH, S, S, 3) */
    hid_t d = -1, dxpl = -1;
    struct progress pr;
    size_t S = (size_t)g->cfg->ingest.image_size, img_bytes = S * S * 3;
    /* Shards of whole batches (PASS_B_BATCH is a multiple of the chunk's 4
     * rows): on a fresh ingest (work i = row i) every rank writes whole
     * chunks of its own, never a chunk shared with another rank. */
    int64_t batches = (g->n_work + (int64_t)g->size * PASS_B_BATCH - 1) / ((int64_t)g->size * PASS_B_BATCH);
    int64_t per_rank = batches * PASS_B_BATCH;
    int64_t b = g->rank * per_rank, e = b + per_rank;
    if (b > g->n_work) b = g->n_work;
    if (e > g->n_work) e = g->n_work;
    int st = resizer_new(&g->ropt, &rz);
    if (st == ST_OK && !(buf = malloc(PASS_B_BATCH * img_bytes))) st = err_set(ST_ERR, "out of memory");
    TRY(dist_agree(st));
    TRY_H5(d = H5Dopen2(catalog_file(c), "/images/pixels", H5P_DEFAULT));
    TRY_H5(dxpl = H5Pcreate(H5P_DATASET_XFER));
    /* Unfiltered chunks are all allocated when the dataset is created or
     * extended (parallel HDF5 allocates early), so each rank writes its own
     * whole chunks with independent I/O: no two-phase exchange, no lockstep;
     * the ranks agree on errors and stop requests every PASS_B_SYNC batches.
     * Filtered (deflate) chunks need collective writes: one per batch. */
    const int coll = g->cfg->catalog.deflate > 0;
    TRY_H5(H5Pset_dxpl_mpio(dxpl, coll ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT));
    progress_begin(&pr, STAGE, "images", g->n_work);
    for (int64_t k = 0; k < batches; k++) {
        int64_t i0 = b + k * PASS_B_BATCH < e ? b + k * PASS_B_BATCH : e;
        int64_t i1 = i0 + PASS_B_BATCH < e ? i0 + PASS_B_BATCH : e;
        if (st == ST_OK) st = fault_point("ingest.batch");
        for (int64_t i = i0; st == ST_OK && i < i1; i++)
            st = render(g, rz, g->work_cand[i], buf + (size_t)(i - i0) * img_bytes);
        double ts = time_now();
        if (coll) TRY(dist_agree(st));
        double tw = time_now();
        if (st == ST_OK && (coll || i1 > i0)) st = write_pixels(d, dxpl, g->work_row + i0, i1 - i0, S, buf);
        double te = time_now();
        if (coll || (k + 1) % PASS_B_SYNC == 0 || k + 1 == batches) {
            TRY(dist_agree(st));
            TRY(stop_check());
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

/* Creates or grows a per-product dataset to n rows and writes all rows from
 * rank 0 (every rank holds the same arrays). */
static int write_column(struct ingest *g, struct catalog *c, const char *name, hid_t type, int ndims,
                        hsize_t inner, const void *buf) {
    int rc = ST_OK;
    if (catalog_exists(c, name)) {
        TRY(catalog_extend(c, name, g->n));
    } else {
        hsize_t dims[2] = {(hsize_t)g->n, inner};
        TRY(catalog_create_dataset(c, name, type, ndims, dims, NULL, 1, g->cfg->catalog.deflate));
    }
    int64_t count = g->rank == 0 ? g->n : 0;
    TRY(catalog_write_rows(c, name, type, 0, count, buf));
fail:
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
    TRY(write_column(g, c, "/products/id", t_id, 1, 0, g->p_id));
    TRY(write_column(g, c, "/products/name", t_name, 1, 0, g->p_name));
    if (g->L) TRY(write_column(g, c, "/products/labels", H5T_NATIVE_INT32, 2, (hsize_t)g->L,
                               g->p_labels));
    TRY(write_column(g, c, "/products/hash", H5T_NATIVE_UINT8, 2, 16, g->p_hash));
    TRY(write_column(g, c, "/products/status", H5T_NATIVE_UINT8, 1, 0, g->p_status));
    TRY(write_column(g, c, "/products/dirty", H5T_NATIVE_UINT8, 1, 0, g->p_dirty));
    TRY(write_column(g, c, "/products/needs_similarity", H5T_NATIVE_UINT8, 1, 0, g->p_needs_sim));
    TRY(write_column(g, c, "/products/image_path", t_path, 1, 0, g->p_path));
    TRY(write_column(g, c, "/products/source_line", H5T_NATIVE_INT64, 1, 0, g->p_line));
    for (int k = 0; k < g->K; k++) {
        char name[256];
        snprintf(name, sizeof name, "/products/attrs/%s", cfg->ingest.keep_columns.items[k]);
        TRY(write_column(g, c, name, t_attr, 1, 0, g->p_attrs[k]));
    }

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
    TRY(dist_agree(load_old(&g, txn.cat)));
    TRY(dist_agree(run_begin(txn.cat, STAGE, cfg, &run)));
    in_run = 1;

    double t1 = time_now();
    TRY(pass_a(&g));
    TRY(dist_agree(assemble(&g)));
    rejects_sort(&g.rejects);
    double t_check = time_now() - t1;

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
    TRY(dist_agree(catalog_commit(&txn)));
    in_txn = 0;
    st = g.rank == 0 ? rejects_write_csv(&g.rejects, rejects_csv) : ST_OK;
    TRY(dist_agree(st));
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
