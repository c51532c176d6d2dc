#!/usr/bin/env bash
# slurm_watchdog.sh - a test cluster does not outlive its test (issue: ctest's
# TIMEOUT SIGKILLs the test, its EXIT trap never runs, the daemons stayed up).
#   A: an owner shell (slurm_common.sh's slurm_up) starts a cluster and a job
#      (`sleep 600` in a batch step), then is killed with SIGKILL: the daemons and
#      the job's processes are gone shortly after and the cluster dir is removed.
#   B: an owner with a short ASSORT_TEST_TIMEOUT stays alive: at the deadline
#      (TIMEOUT - SLURM_TEST_MARGIN) the watchdog kills the daemons while the
#      owner still runs, and marks watchdog.fired.
#   C: tools/slurm-local reap-stale removes B's dir (owner gone), keeps a dir whose
#      owner lives and a fresh dir without an owner record.
# Everything lives under a private TMPDIR, so reap-stale sees only this test's dirs.
# shellcheck disable=SC2317,SC2016  # helpers run through expect; bash -c scripts in single quotes
# shellcheck source=tests/sh/slurm_common.sh
. "$(dirname "$0")/slurm_common.sh"
base=$(mktemp -d "${TMPDIR:-/tmp}/assort-watchdog.XXXXXX")
export TMPDIR=$base
owners=()
cleanup() {
  local rc=$? p d
  for p in "${owners[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for d in "$base"/assort-slurm-test.*; do
    [ -d "$d" ] && { SLURM_CONF=$d/slurm.conf "$ASSORT_SRC/tools/slurm-local" reap "$d" 2>/dev/null || true; }
  done
  rm -rf "$base"
  exit "$rc"
}
trap cleanup EXIT

# The owner: a test shell that brings a cluster up, writes what it made to $1,
# then becomes `sleep` (exec keeps its PID and start time, so it stays the owner).
cat > "$base/owner.sh" <<'SH'
. "$ASSORT_SRC/tests/sh/slurm_common.sh"
slurm_up
echo "dir $SLURM_TEST_DIR" >> "$1"
if [ "${WITH_JOB:-0}" = 1 ]; then
  id=$(sbatch --parsable -o /dev/null --wrap 'sleep 600')
  for _ in $(seq 1 60); do [ "$(job_state "$id")" = RUNNING ] && break; sleep 0.5; done
  echo "job $id $(job_state "$id")" >> "$1"
fi
echo ready >> "$1"
trap - EXIT
exec sleep 1000
SH

# start_owner INFO [ENV...]: runs owner.sh in the background; waits for "ready".
start_owner() {
  local info=$1 t0; shift
  env "$@" bash "$base/owner.sh" "$info" > "$info.log" 2>&1 &
  opid=$!
  owners+=("$opid")
  t0=$(date +%s)
  until grep -q '^ready' "$info" 2>/dev/null; do
    if ! kill -0 "$opid" 2>/dev/null; then
      wait "$opid" && orc=0 || orc=$?
      [ "$orc" -eq 77 ] && { echo "SKIP: slurm-wlm/munge not installable here"; exit 77; }
      echo "FAIL: the owner exited $orc before its cluster was ready" >&2; cat "$info.log" >&2; exit 1
    fi
    [ $(( $(date +%s) - t0 )) -lt 120 ] || { echo "FAIL: owner not ready in 120 s" >&2; cat "$info.log" >&2; exit 1; }
    sleep 0.5
  done
  cdir=$(sed -n 's/^dir //p' "$info")
}
daemon_pids() {  # PIDS of DIR's munged, slurmctld, slurmd from their pid files
  cat "$1/munge/munged.pid" "$1/slurmctld.pid" "$1/slurmd.pid" 2>/dev/null | tr -dc '0-9\n' | tr '\n' ' '
}
# env_pids VAR=VALUE...: processes whose environment holds all these exact entries
env_pids() {
  local p e ok
  for p in /proc/[0-9]*; do
    ok=1
    for e in "$@"; do
      grep -qxzF "$e" "$p/environ" 2>/dev/null || { ok=0; break; }
    done
    [ "$ok" = 0 ] || echo "${p#/proc/}"
  done | tr '\n' ' '
}
alive_of() { local p n=0; for p in $1; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done; echo $n; }
# wait_gone PIDS SECONDS: true once none of PIDS runs
wait_gone() {
  local t0; t0=$(date +%s)
  while [ "$(alive_of "$1")" -gt 0 ]; do
    [ $(( $(date +%s) - t0 )) -lt "$2" ] || return 1
    sleep 0.5
  done
}

# --- A: SIGKILL of the owner ---------------------------------------------------------
start_owner "$base/a.info" WITH_JOB=1 ASSORT_TEST_TIMEOUT=600
job=$(sed -n 's/^job \([0-9]*\) .*/\1/p' "$base/a.info")
dpids=$(daemon_pids "$cdir")
# RUNNING in slurmctld comes before slurmd has the batch step's processes up
# (seen on a loaded machine: RUNNING with none yet): wait up to 30 s for them
for _ in $(seq 1 60); do
  jpids=$(env_pids "SLURM_JOB_ID=$job" "SLURM_CONF=$cdir/slurm.conf")
  [ -n "${jpids// /}" ] && break
  sleep 0.5
done
expect "A: three daemons up ($dpids)" [ "$(alive_of "$dpids")" = 3 ]
expect "A: the job runs ($(sed -n 's/^job //p' "$base/a.info")) with processes ($jpids)" \
  bash -c '[ "$1" = RUNNING ] && [ -n "${2// /}" ]' _ "$(sed -n 's/^job [0-9]* //p' "$base/a.info")" "$jpids"
expect "A: a watchdog runs" kill -0 "$(cat "$cdir/watchdog.pid")"
t0=$(date +%s)
kill -9 "$opid"
expect "A: daemons gone within 30 s of the owner's SIGKILL" wait_gone "$dpids" 30
expect "A: the job's processes gone too" wait_gone "$jpids" 15
for _ in $(seq 1 40); do [ -d "$cdir" ] || break; sleep 0.5; done
expect "A: the cluster dir is removed ($(( $(date +%s) - t0 )) s after the SIGKILL)" [ ! -d "$cdir" ]
left=x
for _ in $(seq 1 20); do left=$(env_pids "SLURM_CONF=$cdir/slurm.conf"); [ -z "${left// /}" ] && break; sleep 0.5; done
expect "A: no process left that names the cluster's slurm.conf (watchdog included; left: '$left')" [ -z "${left// /}" ]

# --- B: the deadline fires while the owner lives ------------------------------------------
start_owner "$base/b.info" ASSORT_TEST_TIMEOUT=50 SLURM_TEST_MARGIN=30
bdir=$cdir; bpid=$opid
dpids=$(daemon_pids "$bdir")
expect "B: three daemons up" [ "$(alive_of "$dpids")" = 3 ]
expect "B: daemons gone by the deadline (~20 s after start; waited up to 60 s)" wait_gone "$dpids" 60
for _ in $(seq 1 60); do [ -f "$bdir/watchdog.fired" ] && break; sleep 0.5; done
expect "B: watchdog.fired, the owner still alive" bash -c '[ -f "$1/watchdog.fired" ] && kill -0 "$2"' _ "$bdir" "$bpid"
expect "B: the dir stays for the owner's own cleanup" [ -d "$bdir" ]

# --- C: reap-stale -----------------------------------------------------------------------
kill -9 "$bpid"
mkdir "$base/assort-slurm-test.live" "$base/assort-slurm-test.fresh"
echo "$$ $(sed 's/.*) //' "/proc/$$/stat" | cut -d' ' -f20)" > "$base/assort-slurm-test.live/owner"
"$ASSORT_SRC/tools/slurm-local" reap-stale 2> "$base/stale.log" || true
cat "$base/stale.log"
expect "C: reap-stale removed B's dir (owner gone)" [ ! -d "$bdir" ]
expect "C: kept the dir whose owner lives" [ -d "$base/assort-slurm-test.live" ]
expect "C: kept a fresh dir without an owner record" [ -d "$base/assort-slurm-test.fresh" ]
finish
