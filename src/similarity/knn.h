/* knn.h - exact top-k image neighbours by cosine similarity.
 *
 * Features are L2-normalised, so cosine = dot product. Scores come from
 * blocked OpenBLAS sgemm over fixed *global* blocks of `block` rows: query
 * block j (the queries whose row lies in rows [j*block, (j+1)*block)) times
 * candidate block i. Shards are whole blocks (knn_shard_range), so every
 * sgemm call sees the same operands whatever the rank count and the scores
 * are bit-identical for 1, 2, ... ranks. Candidate shards circulate around a
 * ring of ranks (MPI_Isend/Irecv, overlapped with compute); each query keeps
 * a bounded heap of its k best candidates. Ties break by the smaller global
 * row, so the result is a pure function of the data: exact and deterministic.
 *
 * Memory per rank: the own shard + one visiting shard (2 * ceil(N/P) * dim
 * floats, plus at most one block of slack), one block x block score tile, and
 * query_count * k heap entries. Never N x N.
 */
#ifndef ASSORT_SIM_KNN_H
#define ASSORT_SIM_KNN_H

#include <stdint.h>

/* One rank's share of the feature matrix. */
struct knn_shard {
    const float *feats;     /* (row_count, dim), rows L2-normalised */
    int64_t row_begin;      /* global row of feats[0] */
    int64_t row_count;
    int dim;
    int64_t total_count;    /* N: rows in the whole catalog */
    const uint8_t *usable;  /* (total_count) 1 = may be a neighbour/query; same on every rank */
};

/* Top-k lists of a set of queries. index -1 / score -INFINITY pad lists that
 * have fewer than k usable candidates. */
struct knn_lists {
    int64_t query_count;
    int k;
    int64_t *query_row;     /* (query_count) global rows of the queries */
    int64_t *index;         /* (query_count, k) global rows, best first */
    float *score;           /* (query_count, k) cosine, descending */
};

/* Exact dot products wanted for given (query, candidate) pairs, filled during
 * the same ring pass (used for fused scores of name-only candidates). */
struct knn_pairs {
    int64_t count;
    const int64_t *query;   /* (count) global rows inside the caller's shard */
    const int64_t *cand;    /* (count) global rows anywhere in the catalog */
    float *score;           /* (count) output: dot product (double accumulation) */
};

/* Block-aligned shard of n rows for `rank` of `size`: the blocks
 * ceil(n/block) are split with dist_shard_range. [*begin, *end) rows. */
void knn_shard_range(int64_t n, int block, int rank, int size, int64_t *begin, int64_t *end);

/* L2-normalises each row of x (n, dim) in place. Rows with zero norm or a
 * non-finite value are left as they are and counted in *bad_count; when
 * usable is not NULL (n entries) those rows get usable[i] = 0. */
void knn_normalize_rows(float *x, int64_t n, int dim, uint8_t *usable, int64_t *bad_count);

/* Exact top-k of each query against every usable row of the catalog except
 * itself. Collective over dist_comm(): every rank passes its shard from
 * knn_shard_range(N, block, rank, size) and the same k and block.
 * query_rows: ascending global rows inside this rank's shard (may be 0 of
 * them); unusable queries get an empty (padded) list. extra may be NULL.
 * Checks for a stop signal (signals_stop_agreed) before each ring step and
 * after the last: ST_INTERRUPTED on every rank when one arrived.
 * On success out owns malloc'ed arrays (knn_lists_free). */
int knn_search(const struct knn_shard *sh, const int64_t *query_rows, int64_t query_count,
               int k, int block, struct knn_pairs *extra, struct knn_lists *out);

/* Frees the arrays of a result (the struct itself is the caller's). */
void knn_lists_free(struct knn_lists *l);

/* --- top-k selection (shared with the name search) ---------------------- */

/* A bounded heap of the k best (score, index) pairs: higher score first,
 * smaller index on equal scores. Arrays are the caller's (k entries). */
struct topk {
    int k, n;
    float *score;
    int64_t *index;
};

/* Offers a candidate; keeps it when it beats the current k-th best. */
void topk_push(struct topk *t, float score, int64_t index);
/* Sorts the kept entries best first and pads the rest (-1, -INFINITY). */
void topk_finish(struct topk *t);

#endif
