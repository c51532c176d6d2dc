# nn: EfficientNet-Lite weights loading, CPU kernels, backbone vs references.
assort_unit_test(test_nn_kernels SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_nn_kernels.c LABELS nn)
