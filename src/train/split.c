#include "split.h"

#include <math.h>
#include <stdlib.h>

#include "train/head.h"
#include "util/status.h"

int split_stratified(const int32_t *label, const uint8_t *eligible, int64_t n_rows, int classes,
                     double f_train, double f_val, double f_test, uint64_t seed, int8_t *out) {
    int64_t *count = calloc((size_t)classes + 1, sizeof(int64_t));
    int64_t *start = calloc((size_t)classes + 1, sizeof(int64_t));
    int64_t *rows = malloc((size_t)(n_rows > 0 ? n_rows : 1) * sizeof(int64_t));
    int64_t *perm = malloc((size_t)(n_rows > 0 ? n_rows : 1) * sizeof(int64_t));
    int64_t *fill = calloc((size_t)classes + 1, sizeof(int64_t));
    if (!count || !start || !rows || !perm || !fill) {
        free(count), free(start), free(rows), free(perm), free(fill);
        return err_set(ST_ERR, "out of memory for the split of %lld rows", (long long)n_rows);
    }
    for (int64_t i = 0; i < n_rows; i++) {
        out[i] = SPLIT_UNUSED;
        if (eligible[i] && label[i] >= 0 && label[i] < classes) count[label[i]]++;
    }
    for (int c = 0; c < classes; c++) start[c + 1] = start[c] + count[c];
    for (int64_t i = 0; i < n_rows; i++)
        if (eligible[i] && label[i] >= 0 && label[i] < classes)
            rows[start[label[i]] + fill[label[i]]++] = i; /* ascending row order */
    int whole = f_train + f_val + f_test > 0.999;
    for (int c = 0; c < classes; c++) {
        int64_t n = count[c];
        if (n == 0) continue;
        int64_t *r = rows + start[c];
        train_permutation(train_hash64(seed ^ 0x5B11Full, (uint64_t)c), n, perm);
        int64_t n_val = (int64_t)floor(n * f_val + 0.5), n_test = (int64_t)floor(n * f_test + 0.5);
        int64_t n_train = whole ? n - n_val - n_test : (int64_t)floor(n * f_train + 0.5);
        if (n_train < 1) {
            n_train = 1;
            while (n_train + n_val + n_test > n && (n_val > 0 || n_test > 0)) {
                if (n_test >= n_val && n_test > 0) n_test--;
                else n_val--;
            }
        }
        if (n_train + n_val + n_test > n) n_test = n - n_train - n_val;
        for (int64_t k = 0; k < n; k++) {
            int8_t part = SPLIT_UNUSED;
            if (k < n_train) part = SPLIT_TRAIN;
            else if (k < n_train + n_val) part = SPLIT_VAL;
            else if (k < n_train + n_val + n_test) part = SPLIT_TEST;
            out[r[perm[k]]] = part;
        }
    }
    free(count), free(start), free(rows), free(perm), free(fill);
    return ST_OK;
}

void split_rare_map(const int64_t *counts, int classes, int64_t min_count, int merge_other,
                    int32_t *map, int *new_classes, int *rare) {
    int kept = 0, n_rare = 0;
    for (int c = 0; c < classes; c++) {
        if (counts[c] >= min_count) {
            map[c] = kept++;
        } else {
            map[c] = -1;
            if (counts[c] > 0) n_rare++;
        }
    }
    if (merge_other && n_rare > 0) {
        for (int c = 0; c < classes; c++)
            if (counts[c] < min_count && counts[c] > 0) map[c] = kept;
        kept++;
    }
    *new_classes = kept;
    *rare = n_rare;
}
