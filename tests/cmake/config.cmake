# Configuration (src/config, `assort config`).
assort_unit_test(test_config SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c LABELS config)
target_compile_definitions(test_config PRIVATE ASSORT_SRC_DIR="${CMAKE_SOURCE_DIR}")
assort_unit_test(test_config_docs SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config_docs.c LABELS config)
target_compile_definitions(test_config_docs PRIVATE ASSORT_SRC_DIR="${CMAKE_SOURCE_DIR}")
assort_sh_test(config_cli sh/config_cli.sh LABELS config)
