#!/usr/bin/env bash
# nightly.sh - DRAFT (the lead finishes it with `assort nightly --plan`): submits the
# nightly chain ingest -> extract -> train -> similarity -> classify as Slurm jobs,
# each starting only after the previous one succeeded (--dependency=afterok; a
# failed stage cancels the rest: --kill-on-invalid-dep=yes), and prints
# "STAGE JOBID" per line. Safe from cron: absolute paths, one run at a time (flock).
#   ASSORT_CATALOG=/data/cat.h5 ASSORT_CONFIG=/etc/assort.yaml slurm/nightly.sh [sbatch options...]
# Environment: everything slurm/assort-job.sh reads (ASSORT_BIN, ASSORT_CONFIG,
# ASSORT_SET, ASSORT_CATALOG, ASSORT_LAUNCH), plus
#   NIGHTLY_STAGES   stages to chain (default "ingest extract train similarity classify")
#   NIGHTLY_GPU=1    use the *-gpu.sbatch variants where they exist
#   NIGHTLY_AFTER    a job id the first stage waits for (afterok)
#   NIGHTLY_WAIT=1   wait for the last stage and exit with the chain's status
# Options after the script go to every sbatch call (e.g. --partition=batch).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stages=${NIGHTLY_STAGES:-ingest extract train similarity classify}
lock=${NIGHTLY_LOCK:-${TMPDIR:-/tmp}/assort-nightly.lock}

exec 9>>"$lock"
if ! flock -n 9; then
  echo "nightly.sh: another nightly submission holds $lock; not submitting" >&2
  exit 1
fi
command -v sbatch >/dev/null || { echo "nightly.sh: sbatch not found (is Slurm set up? SLURM_CONF?)" >&2; exit 1; }
[ -n "${ASSORT_CATALOG:-}" ] || { echo "nightly.sh: set ASSORT_CATALOG=/path/to/catalog.h5" >&2; exit 2; }
export ASSORT_SLURM_DIR="$here"

prev=${NIGHTLY_AFTER:-}
ids=()
for st in $stages; do
  script="$here/$st.sbatch"
  [ "${NIGHTLY_GPU:-0}" = 1 ] && [ -f "$here/$st-gpu.sbatch" ] && script="$here/$st-gpu.sbatch"
  [ -f "$script" ] || { echo "nightly.sh: no job script for stage '$st' ($script)" >&2; exit 2; }
  dep=()
  [ -n "$prev" ] && dep=(--dependency="afterok:$prev" --kill-on-invalid-dep=yes)
  id=$(sbatch --parsable --export=ALL "${dep[@]}" "$@" "$script")
  id=${id%%;*}
  echo "$st $id"
  ids+=("$id")
  prev=$id
done

if [ "${NIGHTLY_WAIT:-0}" = 1 ] && [ -n "$prev" ]; then
  # A stage that waits on a failed one is cancelled, so the last job's final
  # state is the chain's.
  while :; do
    st=$(scontrol show job -o "$prev" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case "$st" in
      COMPLETED) exit 0 ;;
      FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|DEADLINE|PREEMPTED)
        echo "nightly.sh: last stage (job $prev) ended $st" >&2; exit 1 ;;
      "") echo "nightly.sh: job $prev unknown to slurmctld" >&2; exit 1 ;;
    esac
    sleep 2
  done
fi
