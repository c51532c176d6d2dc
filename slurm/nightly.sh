#!/usr/bin/env bash
# nightly.sh - submits the nightly pipeline as Slurm jobs chained with
# --dependency=afterok (a failed stage cancels the rest: --kill-on-invalid-dep=yes)
# and prints "STAGE JOBID" per submitted stage ("STAGE skipped: why" otherwise).
#
#   ASSORT_CATALOG=/data/cat.h5 slurm/nightly.sh [--wait] [--plan] [--csv F] [--images D] \
#       jobs/nightly.yaml [sbatch options...]
#
# With a pipeline file, the stages, their order, resources, arguments and --set
# overrides come from it, and `assort nightly --plan FILE --emit tsv` decides which
# run tonight (e.g. train and similarity are skipped when the night changes
# nothing, so a repeated night is idempotent). --plan prints that plan and submits
# nothing. --wait waits for the last stage and exits 0 only if it COMPLETED.
# Without a pipeline file (legacy form) it chains NIGHTLY_STAGES' *.sbatch
# scripts with the same arguments each.
#
# Safe from cron: one run at a time (flock on NIGHTLY_LOCK), everything it prints
# is also appended to NIGHTLY_LOG (default: none; set it in the crontab), every
# path quoted, absolute paths recommended. A crontab line:
#   30 1 * * * cd /srv/assort && ASSORT_CATALOG=/data/cat.h5 NIGHTLY_CSV=/in/tonight.csv \
#     NIGHTLY_IMAGES=/in/photos NIGHTLY_LOG=/var/log/assort-nightly.log slurm/nightly.sh jobs/nightly.yaml
#
# Environment: everything slurm/assort-job.sh reads (ASSORT_BIN, ASSORT_CONFIG,
# ASSORT_SET, ASSORT_CATALOG, ASSORT_LAUNCH), plus
#   NIGHTLY_CSV, NIGHTLY_IMAGES  tonight's CSV and image root (or --csv/--images)
#   NIGHTLY_GPU=1    use the *-gpu.sbatch variants where they exist (legacy form;
#                    with a pipeline file, gpus_per_rank decides)
#   NIGHTLY_AFTER    a job id the first stage waits for (afterok)
#   NIGHTLY_WAIT=1   as --wait
#   NIGHTLY_OUT_DIR  where job output files go (default: the submit directory)
#   NIGHTLY_LOCK     lock file (default ${TMPDIR:-/tmp}/assort-nightly.lock)
#   NIGHTLY_LOG      append a copy of all output to this file
#   NIGHTLY_STAGES   legacy form: stages to chain (default "ingest extract train similarity classify")
# Inside a job this script also serves as the batch script of stages without a
# *.sbatch file of their own (`assort nightly --diff`, `assort report`):
# NIGHTLY_JOB_STAGE=<command> selects that mode.
set -euo pipefail

# --- batch mode: a stage without its own sbatch script --------------------------
if [ -n "${NIGHTLY_JOB_STAGE:-}" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  d=${ASSORT_SLURM_DIR:-${SLURM_SUBMIT_DIR:-.}/slurm}
  # shellcheck source=slurm/assort-job.sh
  . "$d/assort-job.sh"
  assort_job_init
  assort_job "$NIGHTLY_JOB_STAGE" "$@"
  exit $?
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lock=${NIGHTLY_LOCK:-${TMPDIR:-/tmp}/assort-nightly.lock}
wait_last=${NIGHTLY_WAIT:-0}
plan_only=0
csv=${NIGHTLY_CSV:-}
images=${NIGHTLY_IMAGES:-}
yaml=""
while [ $# -gt 0 ]; do
  case "$1" in
    --wait) wait_last=1; shift ;;
    --plan) plan_only=1; shift ;;
    --csv) csv=${2:?--csv needs a file}; shift 2 ;;
    --images) images=${2:?--images needs a directory}; shift 2 ;;
    *.yaml|*.yml) yaml=$1; shift; break ;;
    *) break ;;
  esac
done
sbatch_opts=("$@")

if [ -n "${NIGHTLY_LOG:-}" ]; then
  exec > >(tee -a "$NIGHTLY_LOG") 2> >(tee -a "$NIGHTLY_LOG" >&2)
  echo "=== $(date '+%F %T') nightly.sh ${yaml:-legacy} (pid $$)" >&2
fi
log() { printf '%s nightly.sh: %s\n' "$(date '+%F %T')" "$*" >&2; }

exec 9>>"$lock"
if ! flock -n 9; then
  log "another nightly submission holds $lock; not submitting"
  exit 1
fi
[ -n "${ASSORT_CATALOG:-}" ] || { log "set ASSORT_CATALOG=/path/to/catalog.h5"; exit 2; }
export ASSORT_SLURM_DIR="$here"
out_opt=()
[ -n "${NIGHTLY_OUT_DIR:-}" ] && out_opt=(--output="$NIGHTLY_OUT_DIR/assort-%x-%j.out")

prev=${NIGHTLY_AFTER:-}
last=""
job_stage=""
# submit STAGE SCRIPT SETS [sbatch opts...] -- [assort args...]: prints the job id.
submit() {
  local st=$1 script=$2 sets=$3; shift 3
  local opts=() dep=() id
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  [ -n "$prev" ] && dep=(--dependency="afterok:$prev" --kill-on-invalid-dep=yes)
  local all_sets=${ASSORT_SET:-}
  [ -n "$sets" ] && all_sets="${all_sets:+$all_sets;}$sets"
  id=$(ASSORT_SET="$all_sets" NIGHTLY_JOB_STAGE="$job_stage" sbatch --parsable --export=ALL "${dep[@]}" "${opts[@]}" \
       "${out_opt[@]}" "${sbatch_opts[@]}" "$script" "$@" 9>&-)
  id=${id%%;*}
  printf '%s\n' "$id"
}

if [ -z "$yaml" ]; then
  # --- legacy form: a fixed chain of *.sbatch scripts ---------------------------
  command -v sbatch >/dev/null || { log "sbatch not found (is Slurm set up? SLURM_CONF?)"; exit 1; }
  stages=${NIGHTLY_STAGES:-ingest extract train similarity classify}
  for st in $stages; do
    script="$here/$st.sbatch"
    [ "${NIGHTLY_GPU:-0}" = 1 ] && [ -f "$here/$st-gpu.sbatch" ] && script="$here/$st-gpu.sbatch"
    [ -f "$script" ] || { log "no job script for stage '$st' ($script)"; exit 2; }
    id=$(submit "$st" "$script" "" --)
    echo "$st $id"
    prev=$id last=$id
  done
else
  # --- pipeline file: assort decides what runs tonight --------------------------
  [ -r "$yaml" ] || { log "$yaml: not a readable pipeline file"; exit 2; }
  if [ -n "${ASSORT_BIN:-}" ]; then bin=$ASSORT_BIN
  elif command -v assort >/dev/null 2>&1; then bin=$(command -v assort)
  else bin="$here/../build/assort"; fi
  [ -x "$bin" ] || { log "no assort binary ($bin); set ASSORT_BIN"; exit 2; }
  pargs=(--plan "$yaml")
  [ -n "${ASSORT_CONFIG:-}" ] && pargs+=(-c "$ASSORT_CONFIG")
  [ -n "$csv" ] && pargs+=(--csv "$csv")
  [ -n "$images" ] && pargs+=(--images "$images")
  plan_rc=0
  # 9>&-: Open MPI's singleton daemon (orted) outlives assort and must not hold the lock
  "$bin" nightly "${pargs[@]}" "$ASSORT_CATALOG" >&2 9>&- || plan_rc=$?
  [ "$plan_rc" -eq 0 ] || { log "assort nightly --plan failed (exit $plan_rc); nothing submitted"; exit "$plan_rc"; }
  [ "$plan_only" = 1 ] && exit 0
  command -v sbatch >/dev/null || { log "sbatch not found (is Slurm set up? SLURM_CONF?)"; exit 1; }
  tsv=$("$bin" nightly "${pargs[@]}" --emit tsv "$ASSORT_CATALOG" 9>&-)
  while IFS=$'\x1f' read -r -a f; do
    [ "${#f[@]}" -ge 2 ] || continue
    if [ "${f[0]}" = "#config" ]; then
      [ -z "${ASSORT_CONFIG:-}" ] && export ASSORT_CONFIG="${f[1]}"
      continue
    fi
    st=${f[0]} acmd=${f[1]} action=${f[2]} ranks=${f[3]} cpus=${f[4]} gpus=${f[5]} tlim=${f[6]} sets=${f[7]:-}
    args=("${f[@]:8}")
    if [ "$action" != run ]; then echo "$st skipped"; continue; fi
    job_stage=""
    opts=(--job-name="nightly-$st" --ntasks="$ranks" --cpus-per-task="$cpus" --time="$tlim")
    script="$here/$acmd.sbatch"
    if [ "$gpus" -gt 0 ]; then
      script="$here/$acmd-gpu.sbatch"
      opts+=(--gpus-per-task="$gpus")
    fi
    if [ ! -f "$script" ]; then
      # no job script of its own: this file is the batch script (see the top)
      script="$here/nightly.sh"
      opts+=(--signal=B:USR1@120 --requeue --open-mode=append --nodes=1)
      job_stage=$acmd
      [ "${#out_opt[@]}" -eq 0 ] && opts+=(--output="assort-%x-%j.out")
    fi
    id=$(submit "$st" "$script" "$sets" "${opts[@]}" -- "${args[@]}")
    echo "$st $id"
    prev=$id last=$id
  done <<<"$tsv"
fi

if [ "$wait_last" = 1 ] && [ -n "$last" ]; then
  # A stage that waits on a failed one is cancelled, so the last job's final
  # state is the chain's.
  while :; do
    st=$(scontrol show job -o "$last" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case "$st" in
      COMPLETED) exit 0 ;;
      FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|DEADLINE|PREEMPTED)
        log "last stage (job $last) ended $st"; exit 1 ;;
      "") log "job $last unknown to slurmctld"; exit 1 ;;
    esac
    sleep 2
  done
fi
