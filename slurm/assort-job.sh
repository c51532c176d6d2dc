# shellcheck shell=bash
# assort-job.sh - the body shared by slurm/*.sbatch: builds assort's command line
# from the environment, launches its MPI ranks with srun --mpi=pmix (or mpirun
# inside the allocation), and runs the preemption protocol:
#
#   Slurm sends USR1 to the batch shell 120 s before the time limit
#   (--signal=B:USR1@120) -> the trap forwards USR1 to the running step -> assort
#   checkpoints and exits 4 ("interrupted after a checkpoint") -> the job requeues
#   itself (scontrol requeue) -> the next run starts the same command, and assort
#   resumes from its checkpoint: extract by itself (its work copy), train with
#   --resume, which this script adds on a restarted run (SLURM_RESTART_COUNT > 0)
#   when the checkpoint <catalog>.train.ckpt.h5 exists (assort_job_resume_args).
#   A stage that finished (exit 0) is never requeued, even when the warning came
#   during its last moments: assort logs that the signal came too late to matter.
#
# Sourced, not executed. Variables (all optional):
#   ASSORT_BIN       the assort binary (default: `assort` on PATH, else
#                    $SLURM_SUBMIT_DIR/build/assort)
#   ASSORT_CONFIG    config file, passed as -c
#   ASSORT_SET       overrides, ';'-separated: "train.lr=0.1; train.epochs=5" -> --set each
#   ASSORT_CATALOG   catalog .h5, appended as the last argument
#   ASSORT_LAUNCH    srun (default) | mpirun (fallback inside the allocation) | none
#   ASSORT_GPU       1: GPU job (set by the *-gpu.sbatch files); extract gets
#                    --set extract.device=gpu
#   ASSORT_MAX_REQUEUE  most restarts before an interrupted job stops requeuing (10)
#   ASSORT_DRY_RUN   1: print the command and exit 0 (checks the scripts without running)
# Arguments after the script name (sbatch slurm/x.sbatch ARGS...) go to assort
# after the options above and before ASSORT_CATALOG.

# assort_job_log MSG: one time-stamped line on stderr (the job's output file).
assort_job_log() {
  printf '%s assort-job[%s]: %s\n' "$(date '+%F %T')" "${SLURM_JOB_ID:-local}" "$*" >&2
}

# assort_job_split_sets STRING: one override per line, blanks trimmed, empties dropped.
assort_job_split_sets() {
  local s
  printf '%s\n' "$1" | tr ';' '\n' | while IFS= read -r s; do
    s="${s#"${s%%[![:space:]]*}"}"
    s="${s%"${s##*[![:space:]]}"}"
    [ -n "$s" ] && printf '%s\n' "$s"
  done
  return 0
}

# assort_job_bin: prints the binary to run, or fails with the fix.
assort_job_bin() {
  if [ -n "${ASSORT_BIN:-}" ]; then
    [ -x "$ASSORT_BIN" ] || { assort_job_log "ASSORT_BIN=$ASSORT_BIN is not an executable file; set ASSORT_BIN to build/assort"; return 2; }
    printf '%s\n' "$ASSORT_BIN"
  elif command -v assort >/dev/null 2>&1; then
    command -v assort
  elif [ -x "${SLURM_SUBMIT_DIR:-.}/build/assort" ]; then
    printf '%s\n' "${SLURM_SUBMIT_DIR:-.}/build/assort"
  else
    assort_job_log "no assort binary: set ASSORT_BIN=/path/to/build/assort (not on PATH, not in ${SLURM_SUBMIT_DIR:-.}/build)"
    return 2
  fi
}

# assort_job_launcher: prints the launcher words, one per line.
assort_job_launcher() {
  case "${ASSORT_LAUNCH:-srun}" in
    srun)
      # 22.05+: srun no longer inherits --cpus-per-task from the batch allocation.
      # No --kill-on-bad-exit: after a checkpoint every rank exits 4, and the first
      # to exit must not get the others killed while they finish; a rank that fails
      # alone ends the job through MPI_Abort.
      printf '%s\n' srun --mpi=pmix "--cpus-per-task=${SLURM_CPUS_PER_TASK:-1}" ;;
    mpirun)
      # Open MPI reads the Slurm allocation; as root it needs the two variables.
      printf '%s\n' mpirun -n "${SLURM_NTASKS:-1}" --bind-to none ;;
    none) ;;
    *) assort_job_log "ASSORT_LAUNCH=${ASSORT_LAUNCH} is not srun, mpirun or none"; return 2 ;;
  esac
}

# assort_job_resume_args STAGE ARGS...: prints `--resume` (one line) when this
# run must resume the stage's checkpoint: train only (extract resumes its work
# copy by itself; similarity and classify keep none), only on a restarted run
# (SLURM_RESTART_COUNT > 0: a fresh submission never silently picks up a
# checkpoint some other, older run left), only when the checkpoint
# <catalog>.train.ckpt.h5 exists (a run stopped before its first epoch ended
# wrote none: train then starts over, as --resume would refuse), and not when
# ARGS already hold --resume. The catalog is ASSORT_CATALOG, else the last ARG.
# Logs its decision.
assort_job_resume_args() {
  local stage=$1; shift
  local restarts=${SLURM_RESTART_COUNT:-0} cat=${ASSORT_CATALOG:-} a
  [ "$stage" = train ] && [ "$restarts" -gt 0 ] || return 0
  for a in "$@"; do [ "$a" = --resume ] && return 0; done
  if [ -z "$cat" ] && [ $# -gt 0 ]; then cat=${!#}; fi
  if [ -n "$cat" ] && [ -f "$cat.train.ckpt.h5" ]; then
    assort_job_log "restart $restarts: checkpoint $cat.train.ckpt.h5 found; adding --resume"
    printf '%s\n' --resume
  else
    assort_job_log "restart $restarts: no checkpoint ${cat:-<catalog>}.train.ckpt.h5 (stopped before its first epoch ended); train starts over"
  fi
  return 0
}

assort_job_usr1=0
assort_job_step=""
# shellcheck disable=SC2034  # read by the sbatch scripts
assort_job_outcome=""  # after assort_job: completed | failed | requeued | interrupted

# Forwards the warning signal to the running step (srun passes USR1 on to every
# task; so does mpirun). assort checkpoints and exits 4.
assort_job_on_usr1() {
  assort_job_usr1=$((assort_job_usr1 + 1))
  assort_job_log "USR1 received (time limit near or preemption); forwarding to the step"
  if [ -n "$assort_job_step" ]; then
    kill -USR1 "$assort_job_step" 2>/dev/null || true
  fi
}

# assort_job STAGE [ARGS...]: runs `assort STAGE` as described above and returns
# its exit status; when the run was interrupted after a checkpoint (exit 4) inside
# a Slurm job with restarts left, requeues the job and returns 0.
assort_job() {
  local stage=$1; shift
  local bin cmd=() launch=() s rc restarts max
  # Trap first: USR1 without a trap would end the batch shell.
  trap assort_job_on_usr1 USR1
  bin=$(assort_job_bin) || return 2
  assort_job_launcher >/dev/null || return 2
  mapfile -t launch < <(assort_job_launcher)
  [ "${ASSORT_LAUNCH:-srun}" = mpirun ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  cmd=("${launch[@]}" "$bin" "$stage")
  [ -n "${ASSORT_CONFIG:-}" ] && cmd+=(-c "$ASSORT_CONFIG")
  while IFS= read -r s; do cmd+=(--set "$s"); done < <(assort_job_split_sets "${ASSORT_SET:-}")
  [ "${ASSORT_GPU:-0}" = 1 ] && [ "$stage" = extract ] && cmd+=(--set extract.device=gpu)
  while IFS= read -r s; do cmd+=("$s"); done < <(assort_job_resume_args "$stage" "$@")
  cmd+=("$@")
  [ -n "${ASSORT_CATALOG:-}" ] && cmd+=("$ASSORT_CATALOG")
  # OpenMP/OpenBLAS threads per rank = the CPUs Slurm gave each task.
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"

  restarts=${SLURM_RESTART_COUNT:-0}
  max=${ASSORT_MAX_REQUEUE:-10}
  assort_job_log "stage $stage, run $((restarts + 1)) (SLURM_RESTART_COUNT=$restarts), ${SLURM_NTASKS:-1} ranks on ${SLURM_JOB_NODELIST:-$(hostname)}"
  assort_job_log "command: $(printf '%q ' "${cmd[@]}")"
  if [ "${ASSORT_DRY_RUN:-0}" = 1 ]; then
    trap - USR1
    printf '%s\n' "$(printf '%q ' "${cmd[@]}")"
    assort_job_outcome=completed
    return 0
  fi

  "${cmd[@]}" &
  assort_job_step=$!
  # A warning that came while the command line was being built is passed on now.
  if [ "$assort_job_usr1" -gt 0 ]; then sleep 1; kill -USR1 "$assort_job_step" 2>/dev/null || true; fi
  # `wait` returns early (status > 128) whenever the trap runs; wait again
  # until the step itself has ended.
  while :; do
    rc=0
    wait "$assort_job_step" || rc=$?
    if [ "$rc" -gt 128 ] && kill -0 "$assort_job_step" 2>/dev/null; then continue; fi
    break
  done
  assort_job_step=""
  trap - USR1
  assort_job_log "step ended with exit code $rc"

  if [ "$rc" -eq 4 ] || { [ "$assort_job_usr1" -gt 0 ] && [ "$rc" -ne 0 ]; }; then
    if [ -z "${SLURM_JOB_ID:-}" ]; then
      assort_job_log "interrupted after a checkpoint; not in a Slurm job, rerun to resume"
      assort_job_outcome=interrupted
      return 4
    fi
    if [ "$restarts" -ge "$max" ]; then
      assort_job_log "interrupted after a checkpoint, but $restarts restarts reached ASSORT_MAX_REQUEUE=$max; resubmit to resume"
      assort_job_outcome=interrupted
      return 4
    fi
    if [ "$rc" -eq 4 ]; then
      assort_job_log "interrupted after a checkpoint; requeuing job $SLURM_JOB_ID to resume"
    else
      assort_job_log "step ended with $rc after the warning signal; requeuing job $SLURM_JOB_ID to resume from the last committed checkpoint"
    fi
    if ! scontrol requeue "$SLURM_JOB_ID"; then
      assort_job_log "scontrol requeue $SLURM_JOB_ID failed (was the job submitted with --requeue?); resubmit to resume"
      assort_job_outcome=interrupted
      return 4
    fi
    assort_job_outcome=requeued
    return 0
  fi
  if [ "$rc" -eq 0 ] && [ "$assort_job_usr1" -gt 0 ]; then
    assort_job_log "the stage finished (exit 0) although USR1 came: its results are committed; not requeued"
  fi
  # shellcheck disable=SC2034
  if [ "$rc" -eq 0 ]; then assort_job_outcome=completed; else assort_job_outcome=failed; fi
  return "$rc"
}

# assort_job_init: fails early on what would fail later anyway.
assort_job_init() {
  if [ -n "${ASSORT_CONFIG:-}" ] && [ ! -r "$ASSORT_CONFIG" ]; then
    assort_job_log "ASSORT_CONFIG=$ASSORT_CONFIG is not a readable file"
    return 2
  fi
  return 0
}
