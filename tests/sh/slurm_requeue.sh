#!/usr/bin/env bash
# slurm_requeue.sh - the preemption protocol on a real single-node Slurm, through
# the real slurm/train.sbatch: a job with a 2-minute limit and --signal=B:USR1@80
# (slurmctld checks limits every 30 s and warns up to 30 s early, so 80 + 30 < 120
# keeps a restarted run from being warned at once) gets USR1 in its batch shell, which forwards it through srun to both ranks of a
# stand-in for assort that checkpoints and exits 4; the job requeues itself and its
# second run (SLURM_RESTART_COUNT=1) resumes from the checkpoint and completes.
# A second job with ASSORT_MAX_REQUEUE=0 must not requeue: it ends FAILED with 4.
# shellcheck source=tests/sh/slurm_common.sh
. "$(dirname "$0")/slurm_common.sh"
export SLURM_LOCAL_CPUS=4   # both jobs (2 ranks each) at once on a 2-core machine
slurm_up
d=$SLURM_TEST_DIR
cd "$d"

# Stand-in for `assort train`: per rank, resumes if its checkpoint exists,
# otherwise works until USR1, then writes the checkpoint and exits 4 like assort.
cat > fake-assort <<'SH'
#!/usr/bin/env bash
r=${SLURM_PROCID:?not under srun}
dir=${FAKE_DIR:?}
n=${SLURM_RESTART_COUNT:-0}
if [ -f "$dir/ckpt.$r" ]; then
  trap '' USR1   # a warning during the (instant) resume is not a second interruption
  echo "rank $r resumed restart=$n from $(cat "$dir/ckpt.$r")"
  echo "resumed $r $n" >> "$dir/events"
  exit 0
fi
trap 'echo "rank $r got USR1 restart=$n"; echo "usr1 $r $n" >> "$dir/events";
      echo "step 17" > "$dir/ckpt.$r"; exit 4' USR1
echo "started $r $n" >> "$dir/events"
echo "rank $r started restart=$n"
for _ in $(seq 1 600); do sleep 0.25; done
echo "rank $r never got USR1"
exit 1
SH
chmod +x fake-assort
mkdir a b

submit() {  # submit DIR EXTRA_ENV...: prints the job id
  local sub=$1; shift
  env "$@" FAKE_DIR="$d/$sub" ASSORT_BIN="$d/fake-assort" \
    sbatch --parsable --time=2 --signal=B:USR1@80 -o "$d/$sub/job.out" \
    "$ASSORT_SRC/slurm/train.sbatch"
}
ja=$(submit a ASSORT_MAX_REQUEUE=10)
jb=$(submit b ASSORT_MAX_REQUEUE=0)
sta=$(wait_job "$ja" 170) || true
stb=$(wait_job "$jb" 30) || true
echo "--- job $ja output"; cat a/job.out
echo "--- job $jb output"; cat b/job.out

# Job a: interrupted, requeued, resumed, completed.
expect "job a final state COMPLETED (got $sta)" [ "$sta" = COMPLETED ]
restarts=$(scontrol show job -o "$ja" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
expect "job a restarted once (Restarts=$restarts)" [ "$restarts" = 1 ]
expect "job a: batch shell got USR1" grep -q "USR1 received" a/job.out
expect "job a: requeued itself" grep -q "requeuing job $ja" a/job.out
expect "job a: run 1 then run 2" grep -q "run 2 (SLURM_RESTART_COUNT=1)" a/job.out
for r in 0 1; do
  want=$(printf 'started %s 0\nusr1 %s 0\nresumed %s 1' $r $r $r)
  got=$(grep " $r " a/events || true)
  expect "job a rank $r: started, USR1 + checkpoint, resumed on restart 1" [ "$got" = "$want" ]
  expect "job a rank $r resumed from its checkpoint" grep -qx "rank $r resumed restart=1 from step 17" a/job.out
done
# jobcomp/filetxt writes one row per run: the requeued run, then the completed one.
rows=$(sacct -c -n -j "$ja" -o state 2>/dev/null | tr -d ' ' | tr '\n' ' ')
expect "sacct -c: two runs, the last COMPLETED (got '$rows')" \
  bash -c "[ \$(echo '$rows' | wc -w) -eq 2 ] && [ \"\$(echo '$rows' | awk '{print \$2}')\" = COMPLETED ]"

# Job b: interrupted, no restarts allowed: exits 4, FAILED, not requeued.
expect "job b final state FAILED (got $stb)" [ "$stb" = FAILED ]
ec=$(scontrol show job -o "$jb" | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p')
expect "job b exit code 4:0 (got $ec)" [ "$ec" = "4:0" ]
expect "job b not requeued" bash -c "! grep -q 'requeuing' b/job.out && [ \$(grep -c '^started' b/events) -eq 2 ]"
expect "job b says how to resume" grep -q "ASSORT_MAX_REQUEUE=0; resubmit to resume" b/job.out
finish
