/* test_sim_names.c - name normalisation, TF-IDF cosine against a brute-force
 * string-based reference, inverted-index search against exhaustive ranking,
 * token Jaccard. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "similarity/names.h"
#include "util/status.h"
#include "testlib.h"

#define NB 64 /* fixed name field, like CATALOG_NAME_BYTES but smaller */

static void test_normalize(void) {
    char out[128];
    /* fullwidth letters (NFKC), apostrophe/hyphen/! (punctuation), case */
    EXPECT_INT(names_normalize("\xEF\xBC\xAE\xEF\xBD\x89\xEF\xBD\x8B\xEF\xBD\x85  MEN'S T-Shirt!!",
                               out, sizeof out), ST_OK);
    EXPECT_STR(out, "nike men s t shirt");
    /* sharp s folds to ss; the fi ligature decomposes (NFKC); NBSP is a space */
    EXPECT_INT(names_normalize("Stra\xC3\x9F" "e \xEF\xAC\x81ne\xC2\xA0" "Blue", out, sizeof out), ST_OK);
    EXPECT_STR(out, "strasse fine blue");
    /* combining acute + e composes to e-acute (NFC part of NFKC), then folds */
    EXPECT_INT(names_normalize("  CAF" "E\xCC\x81 / (x) ", out, sizeof out), ST_OK);
    EXPECT_STR(out, "caf\xC3\xA9 x");
    /* invalid UTF-8 */
    EXPECT_INT(names_normalize("bad \xC3\x28 name", out, sizeof out), ST_DATA);
    EXPECT_STR(out, "");
    /* truncation at a code point boundary */
    EXPECT_INT(names_normalize("\xC3\xA9\xC3\xA9\xC3\xA9", out, 4), ST_OK);
    EXPECT_STR(out, "\xC3\xA9");
}

/* --- reference: grams as code point strings, dense TF-IDF --------------- */
struct gram { int32_t cp[3]; int len; };
static int decode(const char *s, int32_t *cps) {
    int n = 0;
    cps[n++] = ' ';
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int32_t c;
        if (*p < 0x80) c = *p++;
        else if ((*p & 0xE0) == 0xC0) { c = (*p & 0x1F) << 6 | (p[1] & 0x3F); p += 2; }
        else if ((*p & 0xF0) == 0xE0) { c = (*p & 0x0F) << 12 | (p[1] & 0x3F) << 6 | (p[2] & 0x3F); p += 3; }
        else { c = (*p & 0x07) << 18 | (p[1] & 0x3F) << 12 | (p[2] & 0x3F) << 6 | (p[3] & 0x3F); p += 4; }
        cps[n++] = c;
    }
    cps[n++] = ' ';
    return n;
}

int main(void) {
    test_normalize();

    /* a small catalog with near-duplicates, shared words and odd names */
    const char *base[] = {"Nike Men Blue T-Shirt", "nike men blue t shirt", "Nike Women Red Shoe",
                          "Puma Men Black Jacket", "PUMA men black jacket!", "Titan Watch",
                          "Fastrack Watch Men", "A", "", "Adidas Unisex Cap", "Blue Jeans Men",
                          "Men Blue Jeans", "Caf\xC3\xA9 Mug", "CAFE\xCC\x81 MUG"};
    int nb = (int)(sizeof base / sizeof base[0]);
    int n = 300;
    char *names = calloc((size_t)n, NB);
    srand(7);
    const char *words[] = {"red", "blue", "men", "women", "shirt", "tee", "nike", "puma",
                           "jeans", "watch", "cap", "bag", "socks", "kurta", "saree"};
    for (int i = 0; i < n; i++) {
        if (i < nb) {
            snprintf(names + (size_t)i * NB, NB, "%s", base[i]);
        } else {
            char *p = names + (size_t)i * NB;
            int w = 1 + rand() % 5;
            p[0] = '\0';
            for (int j = 0; j < w; j++) {
                strcat(p, words[rand() % 15]);
                if (j + 1 < w) strcat(p, " ");
            }
        }
    }
    struct name_index *ix = NULL;
    int64_t bad = -1;
    EXPECT_INT(name_index_build(names, NB, n, 3, &ix, &bad), ST_OK);
    if (!ix) return TEST_END();
    EXPECT_INT(bad, 0);
    EXPECT_STR(name_index_normalized(ix, 1), "nike men blue t shirt");
    EXPECT_NEAR(name_index_cosine(ix, 0, 1), 1.0, 1e-6);
    EXPECT_NEAR(name_index_cosine(ix, 12, 13), 1.0, 1e-6); /* NFC-equal names */
    EXPECT_NEAR(name_index_cosine(ix, 8, 0), 0.0, 0);      /* empty name */
    EXPECT_NEAR(name_index_jaccard(ix, 10, 11), 1.0, 0);   /* same token set */
    EXPECT_NEAR(name_index_jaccard(ix, 0, 6), 1.0 / 7.0, 1e-7); /* {men} of 5 + 3 - 1 tokens */
    EXPECT_NEAR(name_index_jaccard(ix, 8, 8), 0.0, 0);

    /* brute-force TF-IDF over gram strings (independent of keys/dictionary) */
    int32_t (*cps)[NB + 2] = malloc(sizeof *cps * n);
    int *ncp = malloc(sizeof *ncp * n);
    struct gram *all = malloc(sizeof *all * n * (NB + 2));
    int *gstart = malloc(sizeof *gstart * (n + 1));
    int ng = 0;
    for (int i = 0; i < n; i++) {
        gstart[i] = ng;
        const char *s = name_index_normalized(ix, i);
        if (!*s) continue;
        ncp[i] = decode(s, cps[i]);
        int cnt = ncp[i] >= 3 ? ncp[i] - 2 : 1;
        for (int g = 0; g < cnt; g++) {
            struct gram gr = {{0, 0, 0}, ncp[i] >= 3 ? 3 : ncp[i]};
            for (int j = 0; j < gr.len; j++) gr.cp[j] = cps[i][g + j];
            all[ng++] = gr;
        }
    }
    gstart[n] = ng;
    /* distinct grams and their df */
    struct gram *uniq = malloc(sizeof *uniq * ng);
    int nu = 0;
    for (int g = 0; g < ng; g++) {
        int f = 0;
        for (int u = 0; u < nu && !f; u++) f = !memcmp(&uniq[u], &all[g], sizeof all[g]);
        if (!f) uniq[nu++] = all[g];
    }
    EXPECT_INT(name_index_terms(ix), nu);
    double *vec = calloc((size_t)n * nu, sizeof *vec);
    double *df = calloc(nu, sizeof *df);
    for (int i = 0; i < n; i++)
        for (int g = gstart[i]; g < gstart[i + 1]; g++)
            for (int u = 0; u < nu; u++)
                if (!memcmp(&uniq[u], &all[g], sizeof all[g])) vec[(size_t)i * nu + u] += 1;
    for (int u = 0; u < nu; u++)
        for (int i = 0; i < n; i++) df[u] += vec[(size_t)i * nu + u] > 0;
    for (int i = 0; i < n; i++) {
        double ss = 0;
        for (int u = 0; u < nu; u++) {
            double *v = &vec[(size_t)i * nu + u];
            *v *= log((1.0 + n) / (1.0 + df[u])) + 1.0;
            ss += *v * *v;
        }
        for (int u = 0; u < nu && ss > 0; u++) vec[(size_t)i * nu + u] /= sqrt(ss);
    }
    double max_err = 0;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double r = 0;
            for (int u = 0; u < nu; u++) r += vec[(size_t)a * nu + u] * vec[(size_t)b * nu + u];
            double e = fabs(r - name_index_cosine(ix, a, b));
            if (e > max_err) max_err = e;
        }
    EXPECT(max_err < 1e-5, "max |cosine - reference| = %g", max_err);

    /* inverted-index search vs exhaustive ranking by name_index_cosine */
    int k = 7;
    int64_t *q = malloc(sizeof *q * n);
    uint8_t *usable = malloc(n);
    for (int i = 0; i < n; i++) { q[i] = i; usable[i] = i != 3; }
    struct knn_lists res;
    EXPECT_INT(name_index_search(ix, q, n, k, usable, &res), ST_OK);
    int bad_rank = 0;
    for (int i = 0; i < n; i++) {
        float sc[16];
        int64_t id[16];
        struct topk t = {k, 0, sc, id};
        if (usable[i])
            for (int c = 0; c < n; c++) {
                float s = name_index_cosine(ix, i, c);
                if (c != i && usable[c] && s > 0) topk_push(&t, s, c);
            }
        topk_finish(&t);
        for (int j = 0; j < k; j++)
            if (id[j] != res.index[(size_t)i * k + j] || (id[j] >= 0 && sc[j] != res.score[(size_t)i * k + j]))
                bad_rank++;
    }
    EXPECT_INT(bad_rank, 0);
    EXPECT_INT(res.index[0 * k + 0], 1);  /* the near-duplicate comes first */
    EXPECT(res.index[4 * k + 0] != 3, "unusable row 3 listed as a neighbour");
    EXPECT_INT(res.index[8 * k + 0], -1); /* empty name: no neighbours */
    knn_lists_free(&res);
    name_index_free(ix);
    free(names); free(cps); free(ncp); free(all); free(gstart); free(uniq); free(vec); free(df);
    free(q); free(usable);
    return TEST_END();
}
