# nn: EfficientNet-Lite weights loading, CPU kernels, backbone vs references.
assort_unit_test(test_nn_kernels SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_nn_kernels.c LABELS nn)
assort_unit_test(test_nn_effnet SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_nn_effnet.c LABELS nn)

# Helper for the script tests: pixels .npy -> features/logits .npy (not a test itself).
add_executable(test_nn_features ${CMAKE_SOURCE_DIR}/tests/unit/test_nn_features.c)
target_compile_options(test_nn_features PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(test_nn_features PRIVATE assort_core)
set_target_properties(test_nn_features PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
assort_sh_test(nn_reference sh/nn_reference.sh LABELS nn TIMEOUT 900)

# Benchmark (measured by hand, not a test): build/bench/bench_backbone.
add_executable(bench_backbone ${CMAKE_SOURCE_DIR}/tools/bench/bench_backbone.c)
target_compile_options(bench_backbone PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(bench_backbone PRIVATE assort_core)
set_target_properties(bench_backbone PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)


