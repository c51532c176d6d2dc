# Training (src/train, assort train).
assort_unit_test(test_train_math SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_train_math.c LABELS train)
