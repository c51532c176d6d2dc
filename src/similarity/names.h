/* names.h - product-name similarity: normalisation, character n-gram TF-IDF
 * cosine through an inverted index, token-set Jaccard.
 *
 * Normalisation (names_normalize): utf8proc NFKC + case folding
 * (UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD), then every
 * punctuation (Unicode category P*), separator (Z*) or control (Cc) code
 * point becomes a space, runs of spaces collapse to one, ends are trimmed.
 *
 * Vectors: the normalised name padded with one space at each end is cut
 * into overlapping n-grams of code points (a name shorter than n gives one
 * gram, the whole padded string). For n <= 3 a gram's key is its code points
 * packed into 63 bits (exact, no hashing); for n > 3 the key is XXH3-64 of the
 * code points (collisions have probability ~ grams^2 / 2^64). A dictionary
 * maps keys to term ids in first-seen row order. Weight = tf * idf with tf the
 * raw count in the name and idf = ln((1 + N) / (1 + df)) + 1 (smooth idf), then
 * each vector is L2-normalised; cosine = dot product of two vectors.
 *
 * Every rank builds the same index over all N names (40k names take a few
 * MB) and queries only its shard, so results are exact and identical for any
 * rank count. Scores are summed in float in ascending term-id order both in
 * the inverted-index search and in name_index_cosine, so the two give the
 * same bits for the same pair.
 */
#ifndef ASSORT_SIM_NAMES_H
#define ASSORT_SIM_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "similarity/knn.h"

/* Normalises one NUL-terminated UTF-8 name into out (out_bytes incl. NUL;
 * truncated at a code point boundary when longer). Local. Returns ST_DATA
 * (message names the utf8proc error) for invalid UTF-8; out is then "". */
int names_normalize(const char *in, char *out, size_t out_bytes);

struct name_index;

/* Builds the index over `count` names stored every `stride_bytes` bytes
 * from `names` (each NUL-terminated within its stride, e.g. the fixed
 * CATALOG_NAME_BYTES strings of /products/name). ngram >= 1. Names that are
 * not valid UTF-8 are indexed as empty and counted in *bad_count (may be
 * NULL); their rows are listed by name_index_bad(). Local. Caller frees. */
int name_index_build(const char *names, size_t stride_bytes, int64_t count, int ngram,
                     struct name_index **out, int64_t *bad_count);
void name_index_free(struct name_index *ix);

int64_t name_index_count(const struct name_index *ix);
int64_t name_index_terms(const struct name_index *ix);
/* 1 if row's name was not valid UTF-8 (indexed as empty). */
int name_index_bad(const struct name_index *ix, int64_t row);
/* The normalised name of a row (owned by the index). */
const char *name_index_normalized(const struct name_index *ix, int64_t row);

/* The L2-normalised TF-IDF vector of a row: returns its term count and
 * points *terms (ascending term ids) and *weights into the index (owned by
 * it). Local. Used by the name classifier (src/classify/name_model.h). */
int64_t name_index_vector(const struct name_index *ix, int64_t row, const int32_t **terms,
                          const float **weights);

/* TF-IDF cosine of two rows (0 when either is empty). Local, thread-safe. */
float name_index_cosine(const struct name_index *ix, int64_t a, int64_t b);
/* Token-set Jaccard |A n B| / |A u B| of the space-separated tokens of the
 * normalised names (0 when both are empty). Local, thread-safe. */
float name_index_jaccard(const struct name_index *ix, int64_t a, int64_t b);

/* Exact top-k rows by name cosine for each query row (excluding itself and
 * rows with usable[row] == 0; usable may be NULL = all). Only rows sharing at
 * least one gram (score > 0) are listed; the rest is padded (-1, -INFINITY).
 * Ties break by the smaller row. Local (OpenMP over queries); out as in
 * knn_search, freed with knn_lists_free. */
int name_index_search(const struct name_index *ix, const int64_t *query_rows,
                      int64_t query_count, int k, const uint8_t *usable, struct knn_lists *out);

#endif
