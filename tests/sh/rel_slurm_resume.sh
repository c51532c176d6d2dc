#!/usr/bin/env bash
# rel_slurm_resume.sh - a requeued Slurm train job resumes its checkpoint
# (issue 10): the real slurm/train.sbatch runs the real assort train (2 ranks,
# srun --mpi=pmix) on a small real catalog (rel_common.sh: demo sample, Lite0
# features). On the job's first run rank 1 raises SIGUSR1 itself during epoch 2
# (ASSORT_FAULT=usr1:train.step#7@1, set by a wrapper only when
# SLURM_RESTART_COUNT=0), so train writes its checkpoint and exits 4; the job
# requeues itself; on the second run assort-job.sh adds --resume (restart > 0 and
# <catalog>.train.ckpt.h5 exists), train says `resuming after epoch 2`, and the
# final catalog equals an uninterrupted 2-rank train outside Slurm (h5same).
# A second job gets USR1 only after train's last stop check (in rank 0 at the
# fault point train.end, and in the batch shell after assort ended): assort logs
# that the signal came after the stage had finished, exits 0, the shell says so
# too, and the job is not requeued (COMPLETED, Restarts=0). Before any cluster: assort_job_resume_args' decisions (dry run).
source "$(dirname "$0")/rel_common.sh"
# shellcheck source=tests/sh/slurm_common.sh
. "$(dirname "$0")/slurm_common.sh"

# --- the --resume decision, no cluster (ASSORT_DRY_RUN prints the command) ----
dry() {  # dry RESTARTS [ARGS...]: the command assort-job.sh would run for train
  local r=$1; shift
  env ASSORT_DRY_RUN=1 ASSORT_LAUNCH=none ASSORT_BIN="$bin" SLURM_RESTART_COUNT="$r" \
    bash -c '. "$1/slurm/assort-job.sh"; shift; assort_job train "$@"' _ "$src" "$@" 2>/dev/null
}
c0=$tmp/dry/cat.h5; mkdir -p "$tmp/dry"; : > "$c0"
n_resume() { grep -o -- '--resume' <<<"$1" | wc -l; }
out=$(ASSORT_CATALOG=$c0 dry 0)
expect "restart 0, no checkpoint: no --resume" [ "$(n_resume "$out")" = 0 ]
out=$(ASSORT_CATALOG=$c0 dry 1)
expect "restart 1, no checkpoint: no --resume (train starts over)" [ "$(n_resume "$out")" = 0 ]
: > "$c0.train.ckpt.h5"
out=$(ASSORT_CATALOG=$c0 dry 0)
expect "restart 0, checkpoint present: no --resume (a fresh submission)" [ "$(n_resume "$out")" = 0 ]
out=$(ASSORT_CATALOG=$c0 dry 1)
expect "restart 1, checkpoint present: --resume (got: $out)" [ "$(n_resume "$out")" = 1 ]
out=$(dry 2 "$c0")
expect "restart 2, catalog as the last argument: --resume before it (got: $out)" \
  grep -q -- "--resume $c0" <<<"$out"
out=$(ASSORT_CATALOG=$c0 dry 1 --resume)
expect "restart 1, --resume already given: not doubled" [ "$(n_resume "$out")" = 1 ]
out=$(ASSORT_CATALOG=$c0 env ASSORT_DRY_RUN=1 ASSORT_LAUNCH=none ASSORT_BIN="$bin" SLURM_RESTART_COUNT=1 \
  bash -c '. "$1/slurm/assort-job.sh"; assort_job similarity' _ "$src" 2>/dev/null)
expect "similarity on a restart: no --resume (no checkpoint there)" [ "$(n_resume "$out")" = 0 ]

# --- the catalog and the uninterrupted reference (outside Slurm) -------------
make_base "${REL_N:-64}"
cp "$tmp/base.h5" "$tmp/ref_train.h5"
must "$tmp/ref_train.log" mx 2 train "$tmp/ref_train.h5"

export SLURM_LOCAL_CPUS=2
slurm_up
trap 'rc=$?; rm -rf "$tmp"; (exit $rc); slurm_cleanup' EXIT
d=$SLURM_TEST_DIR
# The sets of rel_common.sh, as assort-job.sh's ASSORT_SET (same config hash).
set_str=""
for ((k = 1; k < ${#sets[@]}; k += 2)); do set_str+="${sets[k]};"; done
# Wrapper: the fault only on restart 0, then the real assort. WRAP_LATE=1: once
# assort has ended, rank 0 has the batch shell sent USR1 (as slurmctld's
# time-limit warning would be) while the step is still running (both ranks
# ignore USR1 and wait 3 s), so the shell forwards it to a finished stage.
cat > "$d/assort-wrap" <<SH
#!/usr/bin/env bash
if [ "\${SLURM_RESTART_COUNT:-0}" = 0 ]; then export ASSORT_FAULT=\$WRAP_FAULT; fi
echo "rank \${SLURM_PROCID:-?} restart \${SLURM_RESTART_COUNT:-0}: assort \$*" >> "\$WRAP_LOG"
rc=0
# Ignored in the wrapper from the start (assort installs its own handler): the
# forwarded USR1 may reach a rank whose assort has already exited (seen under
# ASan, where exit takes longer on one rank than on the other).
if [ "\${WRAP_LATE:-0}" = 1 ]; then trap '' USR1; fi
"$bin" "\$@" || rc=\$?
if [ "\${WRAP_LATE:-0}" = 1 ]; then
  [ "\${SLURM_PROCID:-0}" = 0 ] && scancel --batch --signal=USR1 "\$SLURM_JOB_ID"
  sleep 3
fi
exit \$rc
SH
chmod +x "$d/assort-wrap"
submit() {  # submit NAME FAULT [LATE]: prints the job id
  env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    ASSORT_BIN="$d/assort-wrap" WRAP_FAULT="$2" WRAP_LATE="${3:-0}" WRAP_LOG="$d/$1.args" \
    ASSORT_SET="$set_str" ASSORT_CATALOG="$tmp/$1.h5" \
    sbatch --parsable -o "$d/$1.out" "$src/slurm/train.sbatch"
}

# --- job a: interrupted in epoch 2, requeued, resumed -------------------------
cp "$tmp/base.h5" "$tmp/a.h5"
ja=$(submit a "usr1:train.step#7@1")
sta=$(wait_job "$ja" 240) || true
echo "--- job $ja ($sta)"; cat "$d/a.out"; cat "$d/a.args"
expect "job a COMPLETED (got $sta)" [ "$sta" = COMPLETED ]
restarts=$(scontrol show job -o "$ja" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
expect "job a restarted once (Restarts=$restarts)" [ "$restarts" = 1 ]
expect "run 1: train stopped after epoch 2 with a checkpoint, exit 4, requeued" \
  bash -c "grep -q 'stopped by a signal after epoch 2 (checkpoint written)' '$d/a.out' &&
           grep -q 'step ended with exit code 4' '$d/a.out' && grep -q 'requeuing job $ja' '$d/a.out'"
expect "run 2: assort-job.sh added --resume" grep -q "restart 1: checkpoint .* found; adding --resume" "$d/a.out"
expect "run 1 without --resume, run 2 with it (both ranks)" \
  bash -c "[ \$(grep -c 'restart 0: assort train .*--resume' '$d/a.args') = 0 ] &&
           [ \$(grep -c 'restart 1: assort train .*--resume' '$d/a.args') = 2 ]"
expect "run 2: train resumed after epoch 2" grep -q "resuming after epoch 2 " "$d/a.out"
expect "checkpoint removed after the completed run" test ! -e "$tmp/a.h5.train.ckpt.h5"
expect "job a's catalog equals the uninterrupted train (h5same)" h5same "$tmp/ref_train.h5" "$tmp/a.h5"

# --- job b: USR1 after train's last stop check: finished, not requeued --------
# Rank 0 raises SIGUSR1 itself at train.end (after the stage's work), and the
# batch shell gets USR1 after assort ended while the step still runs (WRAP_LATE).
cp "$tmp/base.h5" "$tmp/b.h5"
jb=$(submit b "usr1:train.end@0" 1)
stb=$(wait_job "$jb" 180) || true
echo "--- job $jb ($stb)"; cat "$d/b.out"
expect "job b COMPLETED (got $stb)" [ "$stb" = COMPLETED ]
rb=$(scontrol show job -o "$jb" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
expect "job b not requeued (Restarts=$rb, one run of 2 ranks)" \
  bash -c "[ '$rb' = 0 ] && ! grep -q requeuing '$d/b.out' && [ \$(grep -c restart '$d/b.args') = 2 ]"
expect "job b: assort says the signal came after the stage had finished" \
  grep -q "SIGUSR1 received after the stage's last stop check: the stage had already finished" "$d/b.out"
expect "job b: the batch shell got USR1 and says the finished stage is not requeued" \
  bash -c "grep -q 'USR1 received' '$d/b.out' && grep -q 'the stage finished (exit 0) although USR1 came' '$d/b.out'"
expect "job b's catalog equals the uninterrupted train (h5same)" h5same "$tmp/ref_train.h5" "$tmp/b.h5"
finish
