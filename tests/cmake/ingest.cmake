# The ingest stage (src/ingest/ingest.c, rejects.c, src/cli/cmd_ingest.c).
assort_sh_test(ingest_bad sh/ingest_bad.sh LABELS ingest)
assort_sh_test(ingest_update sh/ingest_update.sh LABELS ingest)
assort_sh_test(ingest_full sh/ingest_full.sh LABELS "ingest;heavy" TIMEOUT 1200)
assort_unit_test(test_ingest_table SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_ingest_table.c
  LABELS ingest)
assort_sh_test(ingest_spill sh/ingest_spill.sh LABELS ingest TIMEOUT 900)
