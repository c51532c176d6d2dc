# gpu: the cuDNN backbone and the NCCL communicator (docs/gpu.md).
# Without a CUDA device the parity test skips (77, "no CUDA device"); the NCCL
# test runs its MPI fallback; gpu_build checks the CUDA code is in the binary
# and that --device gpu fails cleanly. tools/device-check runs them on a GPU.
assort_unit_test(test_gpu_parity SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_gpu_parity.c
  LABELS gpu TIMEOUT 900)
assort_unit_test(test_gpu_nccl SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_gpu_nccl.c LABELS gpu)
if(ASSORT_HAVE_CUDA)
  # Its device buffers come from the CUDA runtime itself (the same libcudart the module loads).
  target_link_libraries(test_gpu_nccl PRIVATE CUDA::cudart)
endif()
add_test(NAME test_gpu_nccl_2ranks COMMAND ${ASSORT_MPIEXEC} ${ASSORT_MPI_FLAGS} -n 2
  $<TARGET_FILE:test_gpu_nccl>)
set_tests_properties(test_gpu_nccl_2ranks PROPERTIES ENVIRONMENT "${ASSORT_TEST_ENV}"
  TIMEOUT 300 LABELS "unit;gpu" SKIP_RETURN_CODE 77)

# Benchmark (run by tools/device-check on a GPU): build/bench/bench_gpu.
add_executable(bench_gpu ${CMAKE_SOURCE_DIR}/tools/bench/bench_gpu.c)
target_compile_options(bench_gpu PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(bench_gpu PRIVATE assort_core)
set_target_properties(bench_gpu PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
assort_sh_test(gpu_build sh/gpu_build.sh LABELS gpu)
