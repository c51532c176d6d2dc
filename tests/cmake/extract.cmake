# extract: feature extraction stage and imagenet-top5.
assort_unit_test(test_extract_half SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_extract_half.c LABELS extract)
assort_unit_test(test_extract_rowlist SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_extract_rowlist.c RANKS 2 LABELS extract)

# Helper for the script tests (not a test itself).
add_executable(test_extract_util ${CMAKE_SOURCE_DIR}/tests/unit/test_extract_util.c)
target_compile_options(test_extract_util PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(test_extract_util PRIVATE assort_core)
set_target_properties(test_extract_util PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

assort_sh_test(extract_top5 sh/extract_top5.sh LABELS extract TIMEOUT 600)
assort_sh_test(extract_ranks sh/extract_ranks.sh LABELS extract TIMEOUT 900)
assort_sh_test(extract_resume sh/extract_resume.sh LABELS extract TIMEOUT 900)
assort_sh_test(extract_reference sh/extract_reference.sh LABELS extract TIMEOUT 600)
assort_sh_test(extract_errors sh/extract_errors.sh LABELS extract TIMEOUT 300)
assort_sh_test(extract_rowgaps sh/extract_rowgaps.sh LABELS extract TIMEOUT 600)
assort_sh_test(extract_nothing sh/extract_nothing.sh LABELS extract TIMEOUT 600)
