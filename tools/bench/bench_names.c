/* bench_names.c - name similarity throughput (all-pairs TF-IDF cosine with
 * exact top-k through the inverted index) on the names of a catalog CSV.
 *   bench_names CATALOG.csv [K=20] [NORMALISED_OUT] [pruned|exhaustive] [QUERIES=N]
 * Prints pairs/s = queries * N / seconds (pairs scored: the result is the
 * exact top-k over all of them, whether or not the pruned search read every
 * posting); writes the normalised names (one per line) to NORMALISED_OUT for
 * the RapidFuzz peer (bench_names.py). Threads: OMP_NUM_THREADS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "similarity/names.h"
#include "util/log.h"
#include "util/status.h"

#define NB 256

/* The second field of each CSV record (RFC 4180 quoting), header skipped. */
static char *read_names(const char *path, int64_t *count) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *names = malloc(cap * NB);
    int c, field = 0, inq = 0, rec = 0;
    size_t len = 0;
    char cur[NB];
    while ((c = fgetc(f)) != EOF) {
        if (inq) {
            if (c == '"') {
                int d = fgetc(f);
                if (d == '"') { if (field == 1 && len + 1 < NB) cur[len++] = '"'; continue; }
                inq = 0;
                if (d == EOF) break;
                c = d;
            } else {
                if (field == 1 && len + 1 < NB) cur[len++] = (char)c;
                continue;
            }
        }
        if (c == '"') inq = 1;
        else if (c == ',') {
            if (field == 1 && rec > 0) {
                if (n == cap) names = realloc(names, (cap *= 2) * NB);
                memset(names + n * NB, 0, NB);
                memcpy(names + n * NB, cur, len);
                n++;
            }
            field++;
            len = 0;
        } else if (c == '\n') {
            field = 0;
            len = 0;
            rec++;
        } else if (c != '\r' && field == 1 && len + 1 < NB) {
            cur[len++] = (char)c;
        }
    }
    fclose(f);
    *count = (int64_t)n;
    return names;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_names CATALOG.csv [K] [NORMALISED_OUT]\n");
        return 2;
    }
    int k = argc > 2 ? atoi(argv[2]) : 20;
    int64_t n = 0;
    char *names = read_names(argv[1], &n);
    if (!names || n == 0) {
        fprintf(stderr, "bench_names: cannot read names from %s\n", argv[1]);
        return 1;
    }
    struct name_index *ix = NULL;
    int64_t bad = 0;
    double t0 = time_now();
    if (name_index_build(names, NB, n, 3, &ix, &bad) != ST_OK) {
        fprintf(stderr, "bench_names: %s\n", err_msg());
        return 1;
    }
    double t_build = time_now() - t0;
    int exhaustive = argc > 4 && strcmp(argv[4], "exhaustive") == 0;
    int64_t nq = argc > 5 ? atoll(argv[5]) : n;
    if (nq < 1 || nq > n) nq = n;
    int64_t *q = malloc(sizeof *q * nq);
    for (int64_t i = 0; i < nq; i++) q[i] = i;
    struct knn_lists res;
    t0 = time_now();
    int src = exhaustive ? name_index_search_exhaustive(ix, q, nq, k, NULL, &res)
                         : name_index_search(ix, q, nq, k, NULL, &res);
    if (src != ST_OK) {
        fprintf(stderr, "bench_names: %s\n", err_msg());
        return 1;
    }
    double t_search = time_now() - t0;
    double pairs = (double)nq * (double)n;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("names: N=%lld queries=%lld terms=%lld invalid=%lld k=%d search=%s\n", (long long)n,
           (long long)nq, (long long)name_index_terms(ix), (long long)bad, k,
           exhaustive ? "exhaustive" : "pruned");
    printf("assort build %.2f s, search %.2f s, %.3g pairs/s (search only), %.3g pairs/s (build+search)\n",
           t_build, t_search, pairs / t_search, pairs / (t_build + t_search));
    printf("assort peak RSS %.1f MiB\n", ru.ru_maxrss / 1024.0);
    printf("ASSORT_PAIRS_PER_S %.6g\n", pairs / (t_build + t_search));
    if (argc > 3) {
        FILE *f = fopen(argv[3], "w");
        for (int64_t i = 0; f && i < n; i++) fprintf(f, "%s\n", name_index_normalized(ix, i));
        if (f) fclose(f);
    }
    knn_lists_free(&res);
    name_index_free(ix);
    free(q);
    free(names);
    return 0;
}
