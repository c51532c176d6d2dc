# Foundation: shard math, launcher environment (PML choice), the non-blocking check-in (2 ranks),
# catalog round trip (2 ranks), info, abort path, CLI.
assort_unit_test(test_shard SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_shard.c)
assort_unit_test(test_dist_env SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_dist_env.c)
assort_unit_test(test_catalog_mpi SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_catalog_mpi.c RANKS 2)
assort_sh_test(foundation_catalog sh/foundation_catalog.sh)
assort_sh_test(foundation_abort sh/foundation_abort.sh)
assort_sh_test(foundation_cli sh/foundation_cli.sh)
assort_unit_test(test_dist_checkin SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_dist_checkin.c RANKS 2)
