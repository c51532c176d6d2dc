# Training (src/train, assort train).
assort_unit_test(test_train_math SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_train_math.c LABELS train)
assort_unit_test(test_train_dist SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_train_dist.c RANKS 2 LABELS train)
assort_sh_test(train_ranks sh/train_ranks.sh LABELS train)
