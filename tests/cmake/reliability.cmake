# Reliability: corrupt files, disk full, security checks, valgrind
# (docs/reliability.md). Fuzz targets and their replays: fuzz.cmake.
add_executable(rel_tool ${CMAKE_SOURCE_DIR}/tests/unit/rel_tool.c)
target_compile_options(rel_tool PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(rel_tool PRIVATE assort_core)
set_target_properties(rel_tool PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

# heavy: ~260 process starts; the sanitizer pass (-LE heavy) skips it.
assort_sh_test(rel_corrupt sh/rel_corrupt.sh LABELS "reliability;heavy" TIMEOUT 900)
assort_sh_test(rel_diskfull sh/rel_diskfull.sh LABELS reliability TIMEOUT 600)
assort_sh_test(rel_security sh/rel_security.sh LABELS reliability TIMEOUT 600)
assort_sh_test(rel_valgrind sh/rel_valgrind.sh LABELS "valgrind;heavy" TIMEOUT 1200)
assort_sh_test(rel_badfiles sh/rel_badfiles.sh LABELS reliability TIMEOUT 300)
assort_sh_test(rel_fuzz sh/rel_fuzz.sh LABELS "fuzz;heavy" TIMEOUT 1200)
