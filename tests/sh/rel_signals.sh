#!/usr/bin/env bash
# rel_signals.sh - SIGTERM and SIGUSR1 during every stage (issue 10), 2 ranks,
# on a small real catalog (demo sample). For each stage and signal: exit 4
# (ST_INTERRUPTED) with the stage's message, the catalog byte-identical, and a
# rerun whose results equal an uninterrupted run (h5same: h5py, run ids and
# timings excluded). Where the stage checkpoints (extract: committed batches in
# the work copy; train: one checkpoint per epoch) the rerun must say it resumed;
# where it does not (ingest, similarity, classify: short, nothing written
# before the end) the rerun redoes the stage. docs/reliability.md has the table.
# Signals: ASSORT_FAULT=term:/usr1:<point>#N@<rank> makes that rank raise() the
# signal at a chosen point (src/util/fault.c), so the stop lands mid-stage on
# every machine; a signal after a stage's last stop check (fault point
# <stage>.end) must leave exit 0, the results equal to an uninterrupted run, and
# a log line saying it was ignored; extract also gets real signals from outside: SIGUSR1 to
# mpirun (which forwards it to the ranks, as in slurm/assort-job.sh) and
# SIGTERM to each rank's pid (as srun / scancel --signal do).
# Usage: rel_signals.sh [STAGE...] (default: all five; ctest runs two halves).
source "$(dirname "$0")/rel_common.sh"
stages=" ${*:-ingest extract train similarity classify} "
want() { [[ $stages == *" $1 "* ]]; }
make_base "${REL_N:-64}"

# stopped LOG FAULT STAGE ARGS...: a 2-rank run with a signal injected; sets rc.
stopped() {
  local log=$1 fault=$2 stage=$3; shift 3
  rc=0
  ASSORT_FAULT=$fault timeout 180 $mpiexec -n 2 "$bin" "$stage" "${sets[@]}" "$@" > "$log" 2>&1 || rc=$?
}

# late LOG STAGE: a signal after the stage's last stop check (fault point
# <stage>.end, checked by main once the stage returned): exit 0, the results
# committed, and the log says the signal was received and ignored.
late_ok() {
  local log=$1 sig=$2
  same "$rc" 0 && grep -q "SIG$sig received after the stage's last stop check: the stage had already finished" "$log"
}

if want ingest; then
# --- ingest (no checkpoint: stops before writing, the rerun starts over) ------
for sig in term usr1; do
  f=$tmp/ing-$sig.h5
  stopped "$tmp/ing-$sig-1.log" "$sig:ingest.batch#1@$([ $sig = term ] && echo 0 || echo 1)" \
    ingest --csv "$tmp/demo/catalog.csv" --images "$tmp/demo" "$f"
  check "ingest $sig: exit 4" same "$rc" 4
  check "ingest $sig: stop message" grep -q "stopped by a signal; nothing was written" "$tmp/ing-$sig-1.log"
  check "ingest $sig: no catalog and no work copy left" test ! -e "$f" -a ! -e "$f.work"
  must "$tmp/ing-$sig-2.log" mx 2 ingest --csv "$tmp/demo/catalog.csv" --images "$tmp/demo" "$f"
  check "ingest $sig rerun: equal to the uninterrupted run" h5same "$tmp/ingested.h5" "$f"
done
# an update interrupted: the existing catalog stays byte-identical
cp "$tmp/ingested.h5" "$tmp/ing-upd.h5"; before=$(sha "$tmp/ing-upd.h5")
stopped "$tmp/ing-upd.log" "term:ingest.batch#1@1" ingest --update --csv "$tmp/demo/catalog.csv" \
  --images "$tmp/demo" "$tmp/ing-upd.h5"
check "ingest --update term: exit 4, catalog byte-identical" same "$rc:$(sha "$tmp/ing-upd.h5")" "4:$before"
f=$tmp/ing-late.h5
stopped "$tmp/ing-late.log" "usr1:ingest.end@1" ingest --csv "$tmp/demo/catalog.csv" --images "$tmp/demo" "$f"
check "ingest, late usr1: exit 0, the log says it was ignored" late_ok "$tmp/ing-late.log" USR1
check "ingest, late usr1: catalog equal to the uninterrupted run" h5same "$tmp/ingested.h5" "$f"

fi

if want extract; then
# --- extract (resumable: committed batches stay in the work copy) ------------
# A resumed extraction keeps the interrupted attempt's run record, marked
# `interrupted` (the signal) and `superseded_by` (the resumed run's id); the
# resumed run records `resumed_from`. Those are the only differences from an
# uninterrupted run that h5same is told to leave out; runs_ok checks them.
ext_same() { ( export H5SAME_DROP_INCOMPLETE_RUNS=1 H5SAME_IGNORE_ATTRS=resumed_from; h5same "$@" ); }
# runs_ok CATALOG SIGNAL: the extract run records of a catalog resumed once
# after SIGNAL: one interrupted record (not complete, interrupted=SIGNAL,
# interrupted_after_products in 1..N-1, superseded_by = the complete run) and
# one complete run with resumed_from = the interrupted record's id.
runs_ok() {
  "$py" - "$1" "$2" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
ext = {k: dict(f["runs"][k].attrs) for k in f["runs"] if s(f["runs"][k].attrs["command"]) == "extract"}
done = [k for k, a in ext.items() if int(a.get("complete", 0)) == 1]
stopped = [k for k, a in ext.items() if int(a.get("complete", 0)) != 1]
n = len(f["/products/id"])
ok = len(done) == 1 and len(stopped) == 1
if ok:
    a, b = ext[stopped[0]], ext[done[0]]
    ok = (s(a.get("interrupted")) == sys.argv[2] and s(a.get("superseded_by")) == done[0]
          and 0 < int(a.get("interrupted_after_products", 0)) < n
          and s(b.get("resumed_from")) == stopped[0] and "interrupted" not in b)
if not ok:
    print("  extract run records:", {k: {x: s(v) for x, v in a.items() if x in (
        "complete", "interrupted", "interrupted_after_products", "superseded_by", "resumed_from")}
        for k, a in ext.items()})
sys.exit(0 if ok else 1)
PY
}
ext_same_only() { ( export H5SAME_ONLY="features|products"; ext_same "$@" ); }
for sig in term usr1; do
  f=$tmp/ext-$sig.h5; cp "$tmp/ingested.h5" "$f"; before=$(sha "$f")
  # usr1 on rank 1 only: rank 0, which prints the message, must still name SIGUSR1
  stopped "$tmp/ext-$sig-1.log" "$sig:extract.batch#3@$([ $sig = term ] && echo 0 || echo 1)" extract "$f"
  check "extract $sig: exit 4" same "$rc" 4
  check "extract $sig: log names the signal" grep -q "stopped by SIG$(echo $sig | tr a-z A-Z)" "$tmp/ext-$sig-1.log"
  check "extract $sig: catalog byte-identical, work copy kept" same "$(sha "$f"):$(test -f "$f.work"; echo $?)" "$before:0"
  must "$tmp/ext-$sig-2.log" mx 2 extract "$f"
  check "extract $sig rerun: resumed" grep -q "resuming the interrupted work copy" "$tmp/ext-$sig-2.log"
  check "extract $sig rerun: equal to the uninterrupted run" ext_same "$tmp/base.h5" "$f"
  check "extract $sig rerun: interrupted record superseded_by the resumed run, resumed_from it" \
    runs_ok "$f" "SIG$(echo $sig | tr a-z A-Z)"
  check "extract $sig rerun: progress_rows counts both attempts (= the uninterrupted run's)" \
    same "$(h5attr "$f" /features/lite0 progress_rows)" "$(h5attr "$tmp/base.h5" /features/lite0 progress_rows)"
done
f=$tmp/ext-late.h5; cp "$tmp/ingested.h5" "$f"
stopped "$tmp/ext-late.log" "term:extract.end@0" extract "$f"
check "extract, late term: exit 0, the log says it was ignored" late_ok "$tmp/ext-late.log" TERM
check "extract, late term: no work copy left" test ! -e "$f.work"
check "extract, late term: equal to the uninterrupted run" ext_same "$tmp/base.h5" "$f"
# real signals from outside, while the ranks extract (1 image per batch)
for how in usr1-to-mpirun term-to-ranks; do
  f=$tmp/ext-$how.h5; cp "$tmp/ingested.h5" "$f"; before=$(sha "$f")
  log=$tmp/ext-$how-1.log
  ( exec timeout 180 $mpiexec -n 2 "$bin" extract "${sets[@]}" --set extract.batch=1 "$f" > "$log" 2>&1 ) &
  job=$!
  for _ in $(seq 300); do grep -q "products to extract" "$log" 2>/dev/null && break; sleep 0.05; done
  sleep 1
  mpirun_pid=$(pgrep -P "$job" -x mpirun || pgrep -P "$job" || true)
  if [ $how = usr1-to-mpirun ]; then
    kill -USR1 "$mpirun_pid" 2>/dev/null || true
  else
    ranks=$(pgrep -P "$mpirun_pid" -f "assort extract" -d' ' || true)
    echo "     (SIGTERM to rank pids: $ranks)"
    for p in $ranks; do kill -TERM "$p" 2>/dev/null || true; done
  fi
  rc=0; wait "$job" || rc=$?
  if [ "$rc" = 0 ]; then
    echo "     ($how: the extraction had finished before the signal; stop not exercised)"
  else
    check "extract, real $how: exit 4" same "$rc" 4
    check "extract, real $how: catalog byte-identical" same "$(sha "$f")" "$before"
    must "$tmp/ext-$how-2.log" mx 2 extract "$f"
    check "extract, real $how rerun: resumed" grep -q "resuming the interrupted work copy" "$tmp/ext-$how-2.log"
    check "extract, real $how: run records (interrupted, superseded_by, resumed_from)" \
      runs_ok "$f" "$([ $how = usr1-to-mpirun ] && echo SIGUSR1 || echo SIGTERM)"
  fi
  # extract.batch=1 here, so the run records differ: compare what the stage makes
  check "extract, real $how: features and products equal to the uninterrupted run" \
    ext_same_only "$tmp/base.h5" "$f"
done

fi

if want train || want similarity || want classify; then
# --- references for the later stages -----------------------------------------
make_refs

fi

if want train; then
# --- train (checkpoint every epoch; the rerun uses --resume) -----------------
# about 4 steps per epoch: step 2 is in epoch 1, step 7 in epoch 2
for spec in "term:train.step#7@0" "usr1:train.step#2@1"; do
  sig=${spec%%:*}; f=$tmp/train-$sig.h5; cp "$tmp/base.h5" "$f"; before=$(sha "$f")
  stopped "$tmp/train-$sig-1.log" "$spec" train "$f"
  check "train $sig: exit 4" same "$rc" 4
  ep=$(sed -n 's/.*stopped by a signal after epoch \([0-9]*\) (checkpoint written).*/\1/p' "$tmp/train-$sig-1.log" | head -n 1)
  check "train $sig: stopped after an epoch with a checkpoint (epoch '$ep')" test -n "$ep" -a -f "$f.train.ckpt.h5"
  check "train $sig: catalog byte-identical" same "$(sha "$f")" "$before"
  must "$tmp/train-$sig-2.log" mx 2 train "$f" --resume
  check "train $sig rerun: resumed after epoch $ep" grep -q "resuming after epoch $ep " "$tmp/train-$sig-2.log"
  check "train $sig rerun: equal to the uninterrupted run" h5same "$tmp/ref_train.h5" "$f"
done
f=$tmp/train-late.h5; cp "$tmp/base.h5" "$f"
stopped "$tmp/train-late.log" "term:train.end@1" train "$f"
check "train, late term: exit 0, the log says it was ignored" late_ok "$tmp/train-late.log" TERM
check "train, late term: no checkpoint left" test ! -e "$f.train.ckpt.h5"
check "train, late term: equal to the uninterrupted run" h5same "$tmp/ref_train.h5" "$f"

fi

if want similarity; then
# --- similarity (no checkpoint: stops before writing, the rerun redoes it) ---
for spec in "term:similarity.step#1@0" "usr1:similarity.step#3@1"; do
  sig=${spec%%:*}; f=$tmp/sim-$sig.h5; cp "$tmp/ref_train.h5" "$f"; before=$(sha "$f")
  stopped "$tmp/sim-$sig-1.log" "$spec" similarity "$f"
  check "similarity $sig: exit 4" same "$rc" 4
  check "similarity $sig: stop message" grep -q "stopped by a signal during the image kNN" "$tmp/sim-$sig-1.log"
  check "similarity $sig: catalog byte-identical" same "$(sha "$f")" "$before"
  must "$tmp/sim-$sig-2.log" mx 2 similarity "$f"
  check "similarity $sig rerun: equal to the uninterrupted run" h5same "$tmp/ref_sim.h5" "$f"
done
f=$tmp/sim-late.h5; cp "$tmp/ref_train.h5" "$f"
stopped "$tmp/sim-late.log" "usr1:similarity.end@0" similarity "$f"
check "similarity, late usr1: exit 0, the log says it was ignored" late_ok "$tmp/sim-late.log" USR1
check "similarity, late usr1: equal to the uninterrupted run" h5same "$tmp/ref_sim.h5" "$f"

fi

if want classify; then
# --- classify (no checkpoint: stops before writing, the rerun redoes it) -----
# classify.level: #1 before level 1, #3 after both levels (before the writes)
for spec in "term:classify.level#1@0" "usr1:classify.level#3@1"; do
  sig=${spec%%:*}; d=$tmp/cls-$sig; mkdir -p "$d"; cp "$tmp/ref_sim.h5" "$d/c.h5"; before=$(sha "$d/c.h5")
  stopped "$d/1.log" "$spec" classify "$d/c.h5"
  check "classify $sig: exit 4" same "$rc" 4
  check "classify $sig: stop message" grep -q "stopped by a signal after [0-9] of 2 level(s)" "$d/1.log"
  check "classify $sig: catalog byte-identical, no export" same "$(sha "$d/c.h5"):$(ls "$d" | grep -c predictions || true)" "$before:0"
  must "$d/2.log" mx 2 classify "$d/c.h5"
  check "classify $sig rerun: equal to the uninterrupted run" h5same "$tmp/ref_cls/c.h5" "$d/c.h5"
  check "classify $sig rerun: predictions.csv identical" cmp -s "$tmp/ref_cls/predictions.csv" "$d/predictions.csv"
done
d=$tmp/cls-late; mkdir -p "$d"; cp "$tmp/ref_sim.h5" "$d/c.h5"
stopped "$d/1.log" "term:classify.end@1" classify "$d/c.h5"
check "classify, late term: exit 0, the log says it was ignored" late_ok "$d/1.log" TERM
check "classify, late term: equal to the uninterrupted run" h5same "$tmp/ref_cls/c.h5" "$d/c.h5"
check "classify, late term: predictions.csv identical" cmp -s "$tmp/ref_cls/predictions.csv" "$d/predictions.csv"
fi

echo "$([ $fail = 0 ] && echo passed || echo FAILED)"
exit $fail
