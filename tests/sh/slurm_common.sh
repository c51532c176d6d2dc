# slurm_common.sh - sourced by tests/sh/slurm_*.sh: a private single-node cluster
# for one test, stopped by PID on exit, and small assertion helpers.
# shellcheck shell=bash
set -euo pipefail
: "${ASSORT_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }
# expect DESC CMD...: runs CMD, counts a failure if it fails.
expect() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }

slurm_cleanup() {
  local rc=$?
  if [ -n "${SLURM_TEST_DIR:-}" ]; then
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || [ "$fails" -ne 0 ]; then
      for f in "$SLURM_TEST_DIR"/log/*.log; do
        [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; }
      done
    fi
    "$ASSORT_SRC/tools/slurm-local" stop "$SLURM_TEST_DIR" || true
    rm -rf "$SLURM_TEST_DIR"
  fi
  exit "$rc"
}

# slurm_up: starts a cluster in a fresh dir and exports SLURM_CONF; skips (77)
# only when slurm cannot be installed. First it reaps the clusters of earlier
# tests whose shell is gone (tools/slurm-local reap-stale). The cluster gets a
# watchdog (tools/slurm-local, SLURM_LOCAL_OWNER) that reaps it when this shell
# dies without its EXIT trap (SIGKILL, e.g. ctest's TIMEOUT) and, when ctest
# passed the test's TIMEOUT (ASSORT_TEST_TIMEOUT), SLURM_TEST_MARGIN (30) seconds
# before it: jobs cancelled, daemons and job steps killed by PID.
slurm_up() {
  local out rc=0 deadline=0
  "$ASSORT_SRC/tools/slurm-local" reap-stale || true
  SLURM_TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/assort-slurm-test.XXXXXX")
  trap slurm_cleanup EXIT
  if [ -n "${ASSORT_TEST_TIMEOUT:-}" ]; then
    deadline=$(( ASSORT_TEST_TIMEOUT - SECONDS - ${SLURM_TEST_MARGIN:-30} ))
    [ "$deadline" -ge 5 ] || deadline=5
  fi
  out=$(SLURM_LOCAL_OWNER=$$ SLURM_LOCAL_DEADLINE=$deadline \
        "$ASSORT_SRC/tools/slurm-local" start "$SLURM_TEST_DIR") || rc=$?
  if [ "$rc" -eq 77 ]; then echo "SKIP: slurm-wlm/munge not installable here"; exit 77; fi
  [ "$rc" -eq 0 ] || { echo "FAIL: tools/slurm-local start exited $rc" >&2; exit 1; }
  eval "$out"
  [ -f "$SLURM_CONF" ] || { echo "FAIL: no $SLURM_CONF" >&2; exit 1; }
}

# job_state ID: the job's state as slurmctld knows it.
job_state() { scontrol show job -o "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }

# wait_job ID SECONDS: waits until the job reached a final state (a requeued
# job passes through REQUEUED and PENDING); prints it.
wait_job() {
  local id=$1 limit=$2 t0 st
  t0=$(date +%s)
  while :; do
    st=$(job_state "$id")
    case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)
      echo "$st"; return 0 ;;
    esac
    if [ $(( $(date +%s) - t0 )) -ge "$limit" ]; then echo "TIMEOUT_WAITING($st)"; return 1; fi
    sleep 1
  done
}

finish() {
  if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
  echo "all checks passed"
  exit 0
}
