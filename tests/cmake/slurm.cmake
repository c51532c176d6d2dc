# Slurm job layer (slurm/, tools/slurm-local). The two cluster tests start their own
# single-node cluster (munged, slurmctld, slurmd) in a scratch dir, on their own
# ports, and stop it by PID when they end; they skip (77) only if slurm-wlm cannot
# be installed. slurm_scripts needs no cluster.
assort_sh_test(slurm_scripts sh/slurm_scripts.sh LABELS slurm TIMEOUT 180)
assort_sh_test(slurm_mpi sh/slurm_mpi.sh LABELS slurm TIMEOUT 300)
assort_sh_test(slurm_requeue sh/slurm_requeue.sh LABELS slurm TIMEOUT 300)
assort_sh_test(slurm_watchdog sh/slurm_watchdog.sh LABELS slurm TIMEOUT 300)
