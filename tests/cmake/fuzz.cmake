# Fuzz targets (tests/fuzz/, docs/reliability.md).
# Every target builds twice:
#   replay_<t>  any compiler: replay_main.c feeds tests/fuzz/<t>/seeds and
#               tests/fuzz/<t>/crashes to the target; a ctest per target.
#   fuzz_<t>    only with -DASSORT_FUZZ=ON and clang (tools/fuzz): linked with
#               libFuzzer (-fsanitize=fuzzer); tools/fuzz runs it for N seconds.
# tools/fuzz also compiles assort_core with -fsanitize=fuzzer-no-link,address,
# undefined through CMAKE_C_FLAGS, so coverage covers the product code.
option(ASSORT_FUZZ "Build the libFuzzer targets fuzz_<t> (needs clang)" OFF)
set(ASSORT_FUZZ_TARGETS csv config image catalog weights)

add_library(assort_fuzz_util STATIC ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_util.c)
target_compile_options(assort_fuzz_util PRIVATE ${ASSORT_WARNINGS})
target_include_directories(assort_fuzz_util PUBLIC ${CMAKE_SOURCE_DIR}/tests/fuzz)

foreach(t IN LISTS ASSORT_FUZZ_TARGETS)
  set(src ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${t}.c)
  add_executable(replay_${t} ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
  target_compile_options(replay_${t} PRIVATE ${ASSORT_WARNINGS})
  target_link_libraries(replay_${t} PRIVATE assort_fuzz_util assort_core)
  set_target_properties(replay_${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
  add_test(NAME fuzz_replay_${t} COMMAND replay_${t}
    ${CMAKE_SOURCE_DIR}/tests/fuzz/${t}/seeds ${CMAKE_SOURCE_DIR}/tests/fuzz/${t}/crashes
    ${CMAKE_SOURCE_DIR}/tests/fuzz/${t}/hangs)
  set_tests_properties(fuzz_replay_${t} PROPERTIES ENVIRONMENT "${ASSORT_TEST_ENV}" TIMEOUT 300
    LABELS "unit;fuzz-replay" SKIP_RETURN_CODE 77)
  if(ASSORT_FUZZ)
    add_executable(fuzz_${t} ${src})
    target_compile_options(fuzz_${t} PRIVATE ${ASSORT_WARNINGS} -fsanitize=fuzzer)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${t} PRIVATE assort_fuzz_util assort_core)
    set_target_properties(fuzz_${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  endif()
endforeach()

# Seed generator (not a test): writes the small HDF5 seeds for catalog and
# weights; run by hand when the formats change (see tests/fuzz/README.md).
add_executable(fuzz_make_seeds ${CMAKE_SOURCE_DIR}/tests/fuzz/make_seeds.c)
target_compile_options(fuzz_make_seeds PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(fuzz_make_seeds PRIVATE assort_core)
set_target_properties(fuzz_make_seeds PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
