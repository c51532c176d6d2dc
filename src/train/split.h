/* split.h - stratified train/val/test splits and the rare-class rule. Pure.
 */
#ifndef ASSORT_TRAIN_SPLIT_H
#define ASSORT_TRAIN_SPLIT_H

#include <stdint.h>

enum split_part { SPLIT_UNUSED = -1, SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2 };

/* Stratified split of the rows with eligible[i] != 0 and label[i] in
 * [0, classes). Inside each class the rows are shuffled by (seed, class) and
 * cut: n_val = round(n f_val), n_test = round(n f_test), train gets the rest
 * when the fractions sum to 1 (else round(n f_train), leftovers unused).
 * A class with n >= 1 always keeps at least one training row. Other rows get
 * SPLIT_UNUSED. out (n_rows). Returns ST_OK or ST_ERR (memory). */
int split_stratified(const int32_t *label, const uint8_t *eligible, int64_t n_rows, int classes,
                     double f_train, double f_val, double f_test, uint64_t seed, int8_t *out);

/* Rare classes. counts (classes): labelled training-eligible products per
 * class. Classes with counts < min_count are rare. merge_other != 0: rare
 * classes map to one extra class "other" appended after the kept ones;
 * otherwise they map to -1 (dropped). Kept classes keep their order.
 * map (classes) gets the new index or -1; *new_classes the new count;
 * *rare the number of rare classes that had at least one product. */
void split_rare_map(const int64_t *counts, int classes, int64_t min_count, int merge_other,
                    int32_t *map, int *new_classes, int *rare);

#endif
