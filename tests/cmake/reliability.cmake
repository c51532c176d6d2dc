# Reliability: corrupt files, disk full, security checks, valgrind, kill -9 of
# a rank and SIGTERM/SIGUSR1 in every stage, script quoting (docs/reliability.md). Fuzz targets and their replays: fuzz.cmake.
add_executable(rel_tool ${CMAKE_SOURCE_DIR}/tests/unit/rel_tool.c)
target_compile_options(rel_tool PRIVATE ${ASSORT_WARNINGS})
target_link_libraries(rel_tool PRIVATE assort_core)
set_target_properties(rel_tool PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

# heavy: ~260 process starts; the sanitizer pass runs it with fewer bit flips
# (REL_CORRUPT_FLIPS, REL_CORRUPT_WFLIPS; tools/run-tests).
assort_sh_test(rel_corrupt sh/rel_corrupt.sh LABELS "reliability;heavy" TIMEOUT 900)
assort_sh_test(rel_diskfull sh/rel_diskfull.sh LABELS reliability TIMEOUT 600)
assort_sh_test(rel_security sh/rel_security.sh LABELS reliability TIMEOUT 600)
assort_sh_test(rel_valgrind sh/rel_valgrind.sh LABELS "valgrind;heavy" TIMEOUT 1200)
assort_sh_test(rel_badfiles sh/rel_badfiles.sh LABELS reliability TIMEOUT 300)
# one writer per catalog: the second waits (src/catalog/lock.h)
assort_sh_test(rel_catalog_lock sh/rel_catalog_lock.sh LABELS reliability TIMEOUT 300)
# issue 10, second part: faults and signals on a small real catalog (skip
# without the shared data, weights or .venv), script quoting (skip without shellcheck).
assort_unit_test(test_fault SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_fault.c LABELS reliability)
# heavy: ~20-30 mpirun starts each (the sanitizer pass runs them too).
assort_sh_test(rel_kill sh/rel_kill.sh LABELS "reliability;heavy" TIMEOUT 400)
assort_sh_test(rel_signals_early sh/rel_signals_early.sh LABELS "reliability;heavy" TIMEOUT 400)
assort_sh_test(rel_signals_late sh/rel_signals_late.sh LABELS "reliability;heavy" TIMEOUT 400)
assort_sh_test(rel_quoting sh/rel_quoting.sh LABELS reliability TIMEOUT 300)
assort_sh_test(rel_fuzz sh/rel_fuzz.sh LABELS "fuzz;heavy" TIMEOUT 1200)
# issue 10: a requeued Slurm train job resumes its checkpoint (assort-job.sh adds
# --resume); a late USR1 does not requeue a finished stage. Real Slurm (slurm-local).
assort_sh_test(rel_slurm_resume sh/rel_slurm_resume.sh LABELS "reliability;slurm" TIMEOUT 600)
