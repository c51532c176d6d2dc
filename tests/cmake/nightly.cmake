# Nightly pipeline (src/nightly, jobs/nightly.yaml, slurm/nightly.sh).
assort_unit_test(test_nightly SOURCES unit/test_nightly.c)
assort_sh_test(nightly_plan sh/nightly_plan.sh LABELS nightly TIMEOUT 120)
assort_sh_test(nightly_slurm sh/nightly_slurm.sh LABELS "slurm;nightly" TIMEOUT 900)
assort_sh_test(nightly_requeue sh/nightly_requeue.sh LABELS "slurm;nightly" TIMEOUT 900)
assort_sh_test(nightly_changed sh/nightly_changed.sh LABELS nightly TIMEOUT 300)
