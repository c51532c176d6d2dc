# CSV reader, image decode, resize, images-root paths (src/ingest/{csv,image,resize,safepath}).
assort_unit_test(test_csv SOURCES unit/test_csv.c LABELS ingest)
assort_unit_test(test_image_bad SOURCES unit/test_image_bad.c LABELS ingest)
assort_unit_test(test_image_path SOURCES unit/test_image_path.c LABELS ingest)
assort_unit_test(test_image_ref SOURCES unit/test_image_ref.c LABELS ingest TIMEOUT 600)
assort_unit_test(test_resize SOURCES unit/test_resize.c LABELS ingest)
