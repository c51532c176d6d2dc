# CSV reader, image decode, resize, images-root paths (src/ingest/{csv,image,resize,safepath}).
assort_unit_test(test_csv SOURCES unit/test_csv.c LABELS ingest)
assort_unit_test(test_image_bad SOURCES unit/test_image_bad.c LABELS ingest)
assort_unit_test(test_image_path SOURCES unit/test_image_path.c LABELS ingest)
assort_unit_test(test_image_ref SOURCES unit/test_image_ref.c LABELS ingest TIMEOUT 600)
assort_unit_test(test_resize SOURCES unit/test_resize.c LABELS ingest)

# Benchmark (not a test): tools/bench/bench_ingest runs build/tools/bench_ingest_decode.
add_executable(bench_ingest_decode ${CMAKE_SOURCE_DIR}/tools/bench/bench_ingest_decode.c)
target_compile_options(bench_ingest_decode PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(bench_ingest_decode PRIVATE assort_core)
set_target_properties(bench_ingest_decode PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tools)
