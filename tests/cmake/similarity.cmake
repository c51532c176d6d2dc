# Similarity: exact kNN, names, fused scores, groups, the command.
assort_unit_test(test_sim_knn SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_sim_knn.c LABELS similarity)
add_test(NAME test_sim_knn_2ranks COMMAND ${ASSORT_MPIEXEC} ${ASSORT_MPI_FLAGS} -n 2
         $<TARGET_FILE:test_sim_knn>)
set_tests_properties(test_sim_knn_2ranks PROPERTIES ENVIRONMENT "${ASSORT_TEST_ENV}"
  TIMEOUT 300 LABELS "unit;similarity" SKIP_RETURN_CODE 77)
assort_sh_test(sim_knn_ranks sh/sim_knn_ranks.sh LABELS similarity)
assort_unit_test(test_sim_names SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_sim_names.c LABELS similarity)
assort_unit_test(test_sim_names_pruned SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_sim_names_pruned.c LABELS similarity)
assort_unit_test(test_sim_fuse SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_sim_fuse.c LABELS similarity)
assort_unit_test(test_sim_fuse_2ranks SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_sim_fuse.c RANKS 2 LABELS similarity)

# Benchmarks (not tests): tools/bench/bench_knn, tools/bench/bench_names.sh.
foreach(b bench_knn bench_names)
  add_executable(${b} ${CMAKE_SOURCE_DIR}/tools/bench/${b}.c)
  target_compile_options(${b} PRIVATE ${ASSORT_WARNINGS})
  target_link_libraries(${b} PRIVATE assort_core)
  set_target_properties(${b} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tools)
endforeach()

# `assort similarity` end to end (helper makes and checks the catalog).
add_executable(test_sim_cmd ${CMAKE_SOURCE_DIR}/tests/unit/test_sim_cmd.c)
target_compile_options(test_sim_cmd PRIVATE ${ASSORT_WARNINGS})
target_include_directories(test_sim_cmd PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
target_link_libraries(test_sim_cmd PRIVATE assort_core)
set_target_properties(test_sim_cmd PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
assort_sh_test(sim_cmd sh/sim_cmd.sh LABELS similarity)
