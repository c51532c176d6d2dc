/* test_sim_names_pruned.c - the pruned name search (name_index_search) must
 * give bit-identical top-k lists (rows, scores, tie order) to the exhaustive
 * one (name_index_search_exhaustive), and both must match a brute-force
 * ranking by name_index_cosine (a separate merge-based dot product). On a
 * synthetic catalog with frequent words and near-duplicates (always), and on
 * the shared fashion names (3,000 queries; that part is noted as skipped when
 * ../shared is absent). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/csv.h"
#include "similarity/names.h"
#include "testlib.h"
#include "util/log.h"
#include "util/status.h"

#define NB 160

/* Counts rows of a and b that differ in index or score bits. */
static int lists_diff(const struct knn_lists *a, const struct knn_lists *b) {
    int bad = 0;
    for (int64_t i = 0; i < a->query_count; i++) {
        size_t o = (size_t)i * a->k;
        if (memcmp(a->index + o, b->index + o, sizeof *a->index * a->k) != 0 ||
            memcmp(a->score + o, b->score + o, sizeof *a->score * a->k) != 0)
            bad++;
    }
    return bad;
}

/* Queries whose list differs from a brute-force ranking over every row. */
static int brute_diff(const struct name_index *ix, const struct knn_lists *r,
                      const uint8_t *usable, int64_t stride) {
    int64_t n = name_index_count(ix);
    int bad = 0, k = r->k;
    float *sc = malloc(sizeof *sc * k);
    int64_t *id = malloc(sizeof *id * k);
    for (int64_t i = 0; i < r->query_count; i += stride) {
        int64_t q = r->query_row[i];
        struct topk t = {k, 0, sc, id};
        if (!usable || usable[q])
            for (int64_t c = 0; c < n; c++) {
                float s = name_index_cosine(ix, q, c);
                if (c != q && (!usable || usable[c]) && s > 0) topk_push(&t, s, c);
            }
        topk_finish(&t);
        size_t o = (size_t)i * k;
        if (memcmp(id, r->index + o, sizeof *id * k) != 0 ||
            memcmp(sc, r->score + o, sizeof *sc * k) != 0)
            bad++;
    }
    free(sc);
    free(id);
    return bad;
}

/* Runs both searches for the given queries/k/usable and checks them. */
static void compare(const struct name_index *ix, const int64_t *q, int64_t nq, int k,
                    const uint8_t *usable, int64_t brute_stride, const char *what) {
    struct knn_lists a, b;
    double t0 = time_now();
    EXPECT_INT(name_index_search(ix, q, nq, k, usable, &a), ST_OK);
    double t1 = time_now();
    EXPECT_INT(name_index_search_exhaustive(ix, q, nq, k, usable, &b), ST_OK);
    double t2 = time_now();
    int d = lists_diff(&a, &b);
    EXPECT(d == 0, "%s k=%d: %d of %lld queries differ between pruned and exhaustive", what, k, d,
           (long long)nq);
    int bd = brute_diff(ix, &a, usable, brute_stride);
    EXPECT(bd == 0, "%s k=%d: %d queries differ from brute force", what, k, bd);
    int64_t listed = 0;
    for (size_t j = 0; j < (size_t)nq * k; j++) listed += a.index[j] >= 0;
    printf("%s k=%d: %lld queries, %lld neighbours listed, pruned %.2f s, exhaustive %.2f s\n",
           what, k, (long long)nq, (long long)listed, t1 - t0, t2 - t1);
    knn_lists_free(&a);
    knn_lists_free(&b);
}

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void test_synthetic(void) {
    static const char *words[] = {
        "men", "women", "blue", "black", "white", "red", "navy", "grey", "shirt", "t-shirt",
        "shoes", "sports", "casual", "watch", "kurta", "jeans", "top", "dress", "nike", "puma",
        "adidas", "fila", "reebok", "lotto", "jersey", "cotton", "slim", "fit", "printed",
        "striped", "solid", "round", "neck", "polo", "flip", "flops", "sandals", "heels", "bag",
        "backpack", "wallet", "belt", "socks", "cap", "titan", "fastrack", "q&q", "ÉTÉ", "ﬁt",
        "kids", "girls", "boys", "unisex", "leather", "canvas", "running", "training"};
    int nw = (int)(sizeof words / sizeof words[0]);
    int n = 4000;
    char *names = calloc((size_t)n, NB);
    for (int i = 0; i < n; i++) {
        char *s = names + (size_t)i * NB;
        if (i >= 10 && rnd() % 4 == 0) { /* a near-duplicate of an earlier name */
            int src = (int)(rnd() % (uint32_t)i);
            const char *from = names + (size_t)src * NB; /* an earlier row, never s itself */
            size_t len_from = strnlen(from, NB - 3);
            memmove(s, from, len_from);
            if (rnd() % 2) { s[len_from++] = ' '; s[len_from++] = 'x'; }
            s[len_from] = '\0';
            continue;
        }
        int len = 1 + (int)(rnd() % 7);
        size_t o = 0;
        for (int w = 0; w < len && o + 16 < NB; w++) {
            /* skewed: low word ids are frequent */
            uint32_t r = rnd() % (uint32_t)(nw * nw);
            int id = (int)(sqrt((double)r));
            id = nw - 1 - id;
            o += (size_t)snprintf(s + o, NB - o, "%s%s", w ? " " : "", words[id]);
        }
    }
    strcpy(names + 7 * NB, "");     /* empty: no neighbours */
    strcpy(names + 8 * NB, "men");  /* very short */
    strcpy(names + 9 * NB, "men");  /* exact tie with row 8 */
    struct name_index *ix = NULL;
    EXPECT_INT(name_index_build(names, NB, n, 3, &ix, NULL), ST_OK);
    int64_t *q = malloc(sizeof *q * n);
    uint8_t *usable = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        q[i] = i;
        usable[i] = i % 11 != 5;
    }
    int ks[] = {1, 3, 20, 64};
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        compare(ix, q, n, ks[j], NULL, 7, "synthetic");
        compare(ix, q, n, ks[j], usable, 13, "synthetic+usable");
    }
    /* ngram 2 and 4 (hashed keys) too */
    for (int g = 2; g <= 4; g += 2) {
        struct name_index *ix2 = NULL;
        EXPECT_INT(name_index_build(names, NB, n, g, &ix2, NULL), ST_OK);
        compare(ix2, q, n, 10, usable, 17, g == 2 ? "synthetic ngram=2" : "synthetic ngram=4");
        name_index_free(ix2);
    }
    name_index_free(ix);
    free(q);
    free(usable);
    free(names);
}

static void test_fashion(void) {
    const char *shared = getenv("ASSORT_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/fashion/catalog.csv", shared ? shared : "../shared");
    if (access(path, R_OK) != 0) {
        printf("note: %s absent, fashion part skipped\n", path);
        return;
    }
    struct csv *c = NULL;
    EXPECT(csv_open(path, &c) == ST_OK, "open %s: %s", path, err_msg());
    if (!c) return;
    int64_t n = 0, cap = 1 << 16;
    char *names = malloc((size_t)cap * NB);
    struct csv_row row;
    int have, rc;
    while ((rc = csv_next(c, &row, &have)) != ST_ERR && have) {
        if (n == cap) names = realloc(names, (size_t)(cap *= 2) * NB);
        memset(names + (size_t)n * NB, 0, NB);
        if (row.field_count > 1) strncpy(names + (size_t)n * NB, row.fields[1], NB - 1);
        n++;
    }
    csv_close(c);
    EXPECT(n > 40000, "fashion catalog has %lld rows, expected > 40000", (long long)n);
    struct name_index *ix = NULL;
    EXPECT_INT(name_index_build(names, NB, n, 3, &ix, NULL), ST_OK);
    int64_t nq = 3000;
    int64_t *q = malloc(sizeof *q * nq);
    uint8_t *usable = malloc((size_t)n);
    for (int64_t i = 0; i < nq; i++) q[i] = (i * 13) % n;
    for (int64_t i = 0; i < n; i++) usable[i] = i % 9 != 4;
    compare(ix, q, nq, 20, NULL, 100, "fashion");
    compare(ix, q, nq, 5, usable, 100, "fashion+usable");
    name_index_free(ix);
    free(q);
    free(usable);
    free(names);
}

int main(void) {
    test_synthetic();
    test_fashion();
    return TEST_END();
}
