/* names.c - name normalisation and the n-gram TF-IDF inverted index (names.h). */
#include "similarity/names.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "util/check.h"
#include "util/hash.h"

struct name_index {
    int64_t count;
    int ngram;
    /* normalised names: text + offsets (count + 1) */
    char *text;
    int64_t *text_off;
    uint8_t *bad;          /* (count) 1 = invalid UTF-8 */
    /* document vectors, CSR by row, terms ascending */
    int64_t *doc_ptr;      /* (count + 1) */
    int32_t *doc_term;
    float *doc_w;
    /* postings, CSR by term, rows ascending */
    int64_t term_count;
    int64_t *post_ptr;     /* (term_count + 1) */
    int32_t *post_doc;
    float *post_w;
    /* token sets, CSR by row, hashes ascending and unique */
    int64_t *tok_ptr;      /* (count + 1) */
    uint64_t *tok;
};

int names_normalize(const char *in, char *out, size_t out_bytes) {
    utf8proc_uint8_t *m = NULL;
    if (out_bytes == 0) return ST_OK;
    out[0] = '\0';
    utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)in, 0, &m,
                                        UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPAT |
                                            UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (len < 0) return err_set(ST_DATA, "%s", utf8proc_errmsg(len));
    size_t o = 0;
    int pending_space = 0;
    utf8proc_ssize_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t step = utf8proc_iterate(m + i, len - i, &cp);
        if (step <= 0) break; /* cannot happen after utf8proc_map */
        utf8proc_category_t cat = utf8proc_category(cp);
        int blank = cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
                    cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC ||
                    (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO);
        if (blank) {
            pending_space = o > 0;
        } else {
            size_t need = (size_t)step + (pending_space ? 1 : 0);
            if (o + need + 1 > out_bytes) break;
            if (pending_space) out[o++] = ' ';
            memcpy(out + o, m + i, (size_t)step);
            o += (size_t)step;
            pending_space = 0;
        }
        i += step;
    }
    out[o] = '\0';
    free(m);
    return ST_OK;
}

/* --- a uint64 -> int32 open-addressing map for the gram dictionary ------- */
struct gram_map {
    uint64_t *keys;
    int32_t *ids;   /* -1 = empty */
    int64_t cap;    /* power of two */
    int64_t used;
};

static int gram_map_init(struct gram_map *g, int64_t cap) {
    g->cap = 1024;
    while (g->cap < cap * 2) g->cap <<= 1;
    g->used = 0;
    g->keys = malloc(sizeof *g->keys * g->cap);
    g->ids = malloc(sizeof *g->ids * g->cap);
    if (!g->keys || !g->ids) return err_set(ST_ERR, "similarity: out of memory (gram map)");
    memset(g->ids, 0xff, sizeof *g->ids * g->cap);
    return ST_OK;
}

static void gram_map_free(struct gram_map *g) {
    free(g->keys);
    free(g->ids);
}

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Id of key, adding it (id = used) when new. */
static int gram_map_get(struct gram_map *g, uint64_t key) {
    if ((g->used + 1) * 2 > g->cap) {
        struct gram_map b;
        if (gram_map_init(&b, g->cap) != ST_OK) return -1;
        for (int64_t i = 0; i < g->cap; i++) {
            if (g->ids[i] < 0) continue;
            int64_t h = (int64_t)(mix64(g->keys[i]) & (uint64_t)(b.cap - 1));
            while (b.ids[h] >= 0) h = (h + 1) & (b.cap - 1);
            b.keys[h] = g->keys[i];
            b.ids[h] = g->ids[i];
        }
        b.used = g->used;
        gram_map_free(g);
        *g = b;
    }
    int64_t h = (int64_t)(mix64(key) & (uint64_t)(g->cap - 1));
    while (g->ids[h] >= 0) {
        if (g->keys[h] == key) return g->ids[h];
        h = (h + 1) & (g->cap - 1);
    }
    g->keys[h] = key;
    g->ids[h] = (int32_t)g->used++;
    return g->ids[h];
}

/* Gram keys of one normalised name into keys (returns how many). */
static int64_t name_grams(const char *s, int n, uint64_t **keys, int64_t *cap) {
    /* decode " " + s + " " into code points */
    int64_t slen = (int64_t)strlen(s);
    if (slen == 0) return 0;
    int64_t ncp = 0;
    int32_t *cps = malloc(sizeof *cps * (slen + 2));
    if (!cps) return -1;
    cps[ncp++] = ' ';
    utf8proc_ssize_t i = 0;
    while (i < slen) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t st = utf8proc_iterate((const utf8proc_uint8_t *)s + i, slen - i, &cp);
        if (st <= 0) break;
        cps[ncp++] = cp;
        i += st;
    }
    cps[ncp++] = ' ';
    int64_t count = ncp >= n ? ncp - n + 1 : 1;
    if (count > *cap) {
        uint64_t *k2 = realloc(*keys, sizeof **keys * count);
        if (!k2) {
            free(cps);
            return -1;
        }
        *keys = k2;
        *cap = count;
    }
    for (int64_t g = 0; g < count; g++) {
        int len = ncp >= n ? n : (int)ncp;
        const int32_t *c = cps + g;
        uint64_t key;
        if (n <= 3) {
            key = 0;
            for (int j = 0; j < len; j++) key = key * 0x110000u + (uint64_t)c[j];
            if (len < n) key |= 1ull << 63 | (uint64_t)len << 60; /* short names: own key space */
        } else {
            key = hash64(c, sizeof *c * (size_t)len);
        }
        (*keys)[g] = key;
    }
    free(cps);
    return count;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

void name_index_free(struct name_index *ix) {
    if (!ix) return;
    free(ix->text);
    free(ix->text_off);
    free(ix->bad);
    free(ix->doc_ptr);
    free(ix->doc_term);
    free(ix->doc_w);
    free(ix->post_ptr);
    free(ix->post_doc);
    free(ix->post_w);
    free(ix->tok_ptr);
    free(ix->tok);
    free(ix);
}

int name_index_build(const char *names, size_t stride_bytes, int64_t count, int ngram,
                     struct name_index **out, int64_t *bad_count) {
    int rc = ST_OK;
    struct name_index *ix = NULL;
    struct gram_map map = {0};
    uint64_t *keys = NULL;
    int32_t *ids = NULL;
    int64_t keys_cap = 0, text_cap, doc_cap, tok_cap;
    char *norm = NULL;
    *out = NULL;
    REQUIRE(ngram >= 1 && ngram <= 16, ST_USAGE,
            "similarity.ngram = %d is out of range; use 1..16 (3 is the usual)", ngram);
    ix = calloc(1, sizeof *ix);
    TRY_ALLOC(ix);
    ix->count = count;
    ix->ngram = ngram;
    text_cap = count * 32 + 64;
    doc_cap = count * 32 + 64;
    tok_cap = count * 8 + 64;
    ix->text = malloc(text_cap);
    ix->text_off = malloc(sizeof *ix->text_off * (count + 1));
    ix->bad = calloc(count ? count : 1, 1);
    ix->doc_ptr = malloc(sizeof *ix->doc_ptr * (count + 1));
    ix->doc_term = malloc(sizeof *ix->doc_term * doc_cap);
    ix->doc_w = malloc(sizeof *ix->doc_w * doc_cap);
    ix->tok_ptr = malloc(sizeof *ix->tok_ptr * (count + 1));
    ix->tok = malloc(sizeof *ix->tok * tok_cap);
    norm = malloc(stride_bytes * 4 + 16);
    TRY_ALLOC(ix->text);
    TRY_ALLOC(ix->text_off);
    TRY_ALLOC(ix->bad);
    TRY_ALLOC(ix->doc_ptr);
    TRY_ALLOC(ix->doc_term);
    TRY_ALLOC(ix->doc_w);
    TRY_ALLOC(ix->tok_ptr);
    TRY_ALLOC(ix->tok);
    TRY_ALLOC(norm);
    TRY(gram_map_init(&map, count * 8 + 1024));

    int64_t bad = 0, text_len = 0, nnz = 0, ntok = 0;
    ix->text_off[0] = ix->doc_ptr[0] = ix->tok_ptr[0] = 0;
    for (int64_t r = 0; r < count; r++) {
        /* the fixed field may lack its NUL when full: copy and terminate */
        char raw_buf[1024];
        char *raw = stride_bytes < sizeof raw_buf ? raw_buf : NULL;
        if (!raw) {
            raw = malloc(stride_bytes + 1);
            TRY_ALLOC(raw);
        }
        memcpy(raw, names + (size_t)r * stride_bytes, stride_bytes);
        raw[stride_bytes] = '\0';
        if (names_normalize(raw, norm, stride_bytes * 4 + 16) != ST_OK) {
            ix->bad[r] = 1;
            bad++;
            norm[0] = '\0';
        }
        if (raw != raw_buf) free(raw);
        int64_t nl = (int64_t)strlen(norm);
        if (text_len + nl + 1 > text_cap) {
            text_cap = (text_len + nl + 1) * 2;
            char *t = realloc(ix->text, text_cap);
            TRY_ALLOC(t);
            ix->text = t;
        }
        memcpy(ix->text + text_len, norm, nl + 1);
        text_len += nl + 1;
        ix->text_off[r + 1] = text_len;

        /* grams -> term ids -> (term, count) sorted */
        int64_t g = name_grams(norm, ngram, &keys, &keys_cap);
        REQUIRE(g >= 0, ST_ERR, "similarity: out of memory (name grams)");
        int32_t *i2 = realloc(ids, sizeof *ids * (g ? g : 1));
        TRY_ALLOC(i2);
        ids = i2;
        for (int64_t j = 0; j < g; j++) {
            int id = gram_map_get(&map, keys[j]);
            REQUIRE(id >= 0, ST_ERR, "similarity: out of memory (gram map)");
            ids[j] = id;
        }
        qsort(ids, g, sizeof *ids, cmp_i32);
        if (nnz + g > doc_cap) {
            doc_cap = (nnz + g) * 2;
            int32_t *t = realloc(ix->doc_term, sizeof *t * doc_cap);
            TRY_ALLOC(t);
            ix->doc_term = t;
            float *w = realloc(ix->doc_w, sizeof *w * doc_cap);
            TRY_ALLOC(w);
            ix->doc_w = w;
        }
        for (int64_t j = 0; j < g;) {
            int64_t e = j;
            while (e < g && ids[e] == ids[j]) e++;
            ix->doc_term[nnz] = ids[j];
            ix->doc_w[nnz] = (float)(e - j); /* tf for now */
            nnz++;
            j = e;
        }
        ix->doc_ptr[r + 1] = nnz;

        /* token set: hashes of space-separated tokens, sorted unique */
        int64_t t0 = ntok;
        for (const char *p = norm; *p;) {
            const char *e = strchr(p, ' ');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (ntok + 1 > tok_cap) {
                tok_cap *= 2;
                uint64_t *t = realloc(ix->tok, sizeof *t * tok_cap);
                TRY_ALLOC(t);
                ix->tok = t;
            }
            ix->tok[ntok++] = hash64(p, len);
            p += len;
            if (*p == ' ') p++;
        }
        qsort(ix->tok + t0, ntok - t0, sizeof *ix->tok, cmp_u64);
        int64_t u = t0;
        for (int64_t j = t0; j < ntok; j++)
            if (j == t0 || ix->tok[j] != ix->tok[u - 1]) ix->tok[u++] = ix->tok[j];
        ntok = u;
        ix->tok_ptr[r + 1] = ntok;
    }
    ix->term_count = map.used;

    /* document frequencies, idf, weights, L2 normalisation, postings */
    int64_t T = ix->term_count;
    ix->post_ptr = calloc(T + 1, sizeof *ix->post_ptr);
    TRY_ALLOC(ix->post_ptr);
    for (int64_t j = 0; j < nnz; j++) ix->post_ptr[ix->doc_term[j] + 1]++;
    for (int64_t t = 0; t < T; t++) ix->post_ptr[t + 1] += ix->post_ptr[t];
    ix->post_doc = malloc(sizeof *ix->post_doc * (nnz ? nnz : 1));
    ix->post_w = malloc(sizeof *ix->post_w * (nnz ? nnz : 1));
    TRY_ALLOC(ix->post_doc);
    TRY_ALLOC(ix->post_w);
    for (int64_t r = 0; r < count; r++) {
        double ss = 0;
        for (int64_t j = ix->doc_ptr[r]; j < ix->doc_ptr[r + 1]; j++) {
            int32_t t = ix->doc_term[j];
            double df = (double)(ix->post_ptr[t + 1] - ix->post_ptr[t]);
            double w = ix->doc_w[j] * (log((1.0 + (double)count) / (1.0 + df)) + 1.0);
            ix->doc_w[j] = (float)w;
            ss += w * w;
        }
        double inv = ss > 0 ? 1.0 / sqrt(ss) : 0;
        for (int64_t j = ix->doc_ptr[r]; j < ix->doc_ptr[r + 1]; j++)
            ix->doc_w[j] = (float)(ix->doc_w[j] * inv);
    }
    {
        int64_t *fill = malloc(sizeof *fill * (T ? T : 1));
        TRY_ALLOC(fill);
        memcpy(fill, ix->post_ptr, sizeof *fill * T);
        for (int64_t r = 0; r < count; r++)
            for (int64_t j = ix->doc_ptr[r]; j < ix->doc_ptr[r + 1]; j++) {
                int32_t t = ix->doc_term[j];
                ix->post_doc[fill[t]] = (int32_t)r;
                ix->post_w[fill[t]] = ix->doc_w[j];
                fill[t]++;
            }
        free(fill);
    }
    if (bad_count) *bad_count = bad;
    *out = ix;
    ix = NULL;
fail:
    gram_map_free(&map);
    free(keys);
    free(ids);
    free(norm);
    name_index_free(ix);
    return rc;
}

int64_t name_index_count(const struct name_index *ix) { return ix->count; }
int64_t name_index_terms(const struct name_index *ix) { return ix->term_count; }
int name_index_bad(const struct name_index *ix, int64_t row) { return ix->bad[row]; }
const char *name_index_normalized(const struct name_index *ix, int64_t row) {
    return ix->text + ix->text_off[row];
}

int64_t name_index_vector(const struct name_index *ix, int64_t row, const int32_t **terms,
                          const float **weights) {
    *terms = ix->doc_term + ix->doc_ptr[row];
    *weights = ix->doc_w + ix->doc_ptr[row];
    return ix->doc_ptr[row + 1] - ix->doc_ptr[row];
}

float name_index_cosine(const struct name_index *ix, int64_t a, int64_t b) {
    int64_t i = ix->doc_ptr[a], ie = ix->doc_ptr[a + 1];
    int64_t j = ix->doc_ptr[b], je = ix->doc_ptr[b + 1];
    float s = 0;
    while (i < ie && j < je) {
        int32_t ta = ix->doc_term[i], tb = ix->doc_term[j];
        if (ta < tb) {
            i++;
        } else if (tb < ta) {
            j++;
        } else {
            float p = ix->doc_w[i] * ix->doc_w[j];
            s += p;
            i++;
            j++;
        }
    }
    return s;
}

float name_index_jaccard(const struct name_index *ix, int64_t a, int64_t b) {
    int64_t i = ix->tok_ptr[a], ie = ix->tok_ptr[a + 1];
    int64_t j = ix->tok_ptr[b], je = ix->tok_ptr[b + 1];
    int64_t na = ie - i, nb = je - j, inter = 0;
    if (na + nb == 0) return 0;
    while (i < ie && j < je) {
        if (ix->tok[i] < ix->tok[j]) i++;
        else if (ix->tok[j] < ix->tok[i]) j++;
        else {
            inter++;
            i++;
            j++;
        }
    }
    return (float)((double)inter / (double)(na + nb - inter));
}

int name_index_search(const struct name_index *ix, const int64_t *query_rows,
                      int64_t query_count, int k, const uint8_t *usable, struct knn_lists *out) {
    int rc = ST_OK;
    int64_t n = ix->count;
    memset(out, 0, sizeof *out);
    REQUIRE(k >= 1, ST_USAGE, "similarity.k = %d must be >= 1", k);
    out->query_count = query_count;
    out->k = k;
    int64_t qc = query_count ? query_count : 1;
    out->query_row = malloc(sizeof *out->query_row * qc);
    out->index = malloc(sizeof *out->index * qc * k);
    out->score = malloc(sizeof *out->score * qc * k);
    TRY_ALLOC(out->query_row);
    TRY_ALLOC(out->index);
    TRY_ALLOC(out->score);
    int oom = 0;
#pragma omp parallel reduction(| : oom)
    {
        float *acc = calloc(n ? n : 1, sizeof *acc);
        int32_t *touched = malloc(sizeof *touched * (n ? n : 1));
        if (!acc || !touched) oom = 1;
#pragma omp for schedule(dynamic, 64)
        for (int64_t qi = 0; qi < query_count; qi++) {
            int64_t q = query_rows[qi];
            struct topk h = {k, 0, out->score + qi * k, out->index + qi * k};
            out->query_row[qi] = q;
            if (!oom && (!usable || usable[q])) {
                int64_t nt = 0;
                /* term-at-a-time accumulation in ascending term order (see names.h) */
                for (int64_t j = ix->doc_ptr[q]; j < ix->doc_ptr[q + 1]; j++) {
                    int32_t t = ix->doc_term[j];
                    float wq = ix->doc_w[j];
                    for (int64_t p = ix->post_ptr[t]; p < ix->post_ptr[t + 1]; p++) {
                        int32_t d = ix->post_doc[p];
                        if (acc[d] == 0) touched[nt++] = d;
                        float prod = wq * ix->post_w[p];
                        acc[d] += prod;
                    }
                }
                for (int64_t j = 0; j < nt; j++) {
                    int32_t d = touched[j];
                    float s = acc[d];
                    acc[d] = 0;
                    if (d == q || (usable && !usable[d])) continue;
                    if (h.n == h.k && s < h.score[0]) continue;
                    topk_push(&h, s, d);
                }
            }
            topk_finish(&h);
        }
        free(acc);
        free(touched);
    }
    REQUIRE(!oom, ST_ERR, "similarity: out of memory (name search scratch, %lld rows)",
            (long long)n);
fail:
    if (rc != ST_OK) knn_lists_free(out);
    return rc;
}
