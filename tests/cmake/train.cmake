# Training (src/train, assort train).
assort_unit_test(test_train_math SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_train_math.c LABELS train)
assort_unit_test(test_train_dist SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_train_dist.c RANKS 2 LABELS train)
assort_sh_test(train_ranks sh/train_ranks.sh LABELS train)
# Benchmark program (not a test): tools/bench/bench_train.sh runs it.
add_executable(bench_train ${CMAKE_SOURCE_DIR}/tools/bench/bench_train.c)
target_compile_options(bench_train PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(bench_train PRIVATE assort_core)
set_target_properties(bench_train PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tools)
assort_unit_test(test_train_catalog SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_train_catalog.c RANKS 2 LABELS train)
set_tests_properties(test_train_catalog PROPERTIES WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
assort_sh_test(train_cli sh/train_cli.sh LABELS train)
