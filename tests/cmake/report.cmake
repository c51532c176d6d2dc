# Run listing/comparison and the HTML report (src/report, assort runs, assort report).
assort_unit_test(test_report_json SOURCES unit/test_report_json.c LABELS report)
assort_unit_test(test_report_html SOURCES unit/test_report_html.c LABELS report)

# Helper (not a test): makes the small catalog the script tests run on.
add_executable(test_report_make ${CMAKE_SOURCE_DIR}/tests/unit/test_report_make.c)
target_compile_options(test_report_make PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(test_report_make PRIVATE assort_core)
set_target_properties(test_report_make PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

assort_sh_test(report_runs sh/report_runs.sh LABELS report)
assort_sh_test(report_html sh/report_html.sh LABELS report)
