# Classification (src/classify, assort classify).
assort_unit_test(test_classify_math SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_classify_math.c LABELS classify)
# `assort classify` end to end (helper makes and checks the catalog).
add_executable(test_classify_cmd ${CMAKE_SOURCE_DIR}/tests/unit/test_classify_cmd.c)
target_compile_options(test_classify_cmd PRIVATE ${ASSORT_WARNINGS})
target_include_directories(test_classify_cmd PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
target_link_libraries(test_classify_cmd PRIVATE assort_core)
set_target_properties(test_classify_cmd PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
assort_sh_test(classify_cmd sh/classify_cmd.sh LABELS classify)
assort_unit_test(test_classify_weights SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_classify_weights.c LABELS classify)
