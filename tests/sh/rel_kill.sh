#!/usr/bin/env bash
# rel_kill.sh - kill -9 of ONE MPI rank in the middle of train, similarity and
# classify (issue 10; ingest: ingest_update.sh, extract: extract_resume.sh) on
# a small real catalog (demo sample, 2 ranks):
#   the job ends non-zero within a bounded time (mpirun notices the dead rank,
#   no hang), the catalog is byte-identical and readable (every earlier complete
#   result intact), and a rerun completes with results identical to an
#   uninterrupted run (h5py comparison: h5same in rel_common.sh).
# The kill is the fault point ASSORT_FAULT=kill:<point>#N@1 (raise(SIGKILL) on
# rank 1 at its N-th call: src/util/fault.c) and, for similarity, also a real
# `kill -9` of rank 1's pid found under mpirun's process tree.
source "$(dirname "$0")/rel_common.sh"
limit=60   # seconds a job with a dead rank may take to end
make_base "${REL_N:-96}"

# --- uninterrupted references (each stage from the previous one's output) ----
make_refs
# the comparison can fail: a catalog with one more stage is not the same
check "h5same tells train output from its input" test "$(h5same "$tmp/base.h5" "$tmp/ref_train.h5" | wc -l)" -gt 0

# killrun LOG FAULT STAGE ARGS...: a 2-rank run with rank 1 killed; sets rc, t0, t1.
killrun() {
  local log=$1 fault=$2 stage=$3; shift 3
  t0=$(date +%s); rc=0
  ASSORT_FAULT=$fault timeout 180 $mpiexec -n 2 "$bin" "$stage" "${sets[@]}" "$@" > "$log" 2>&1 || rc=$?
  t1=$(date +%s)
}

# --- train: rank 1 killed at step 9 (epoch 2 of 4: 5 steps per epoch) ---------
cp "$tmp/base.h5" "$tmp/train.h5"; before=$(sha "$tmp/train.h5")
killrun "$tmp/train1.log" "kill:train.step#9@1" train "$tmp/train.h5"
killed "train" "$rc" "$t0" "$t1" "$limit"
check "train: the fault fired on rank 1" grep -q "injected crash (SIGKILL) at train.step" "$tmp/train1.log"
check "train: catalog byte-identical" same "$(sha "$tmp/train.h5")" "$before"
check "train: catalog readable" readable "$tmp/train.h5"
check "train: epoch-1 checkpoint kept" test -f "$tmp/train.h5.train.ckpt.h5"
rc=0; mx 2 train "$tmp/train.h5" --resume > "$tmp/train2.log" 2>&1 || rc=$?
check "train rerun (--resume): exit 0" same "$rc" 0
check "train rerun: resumed after epoch 1" grep -q "resuming after epoch 1" "$tmp/train2.log"
check "train rerun: equal to the uninterrupted run" h5same "$tmp/ref_train.h5" "$tmp/train.h5"
check "train rerun: checkpoint removed" test ! -e "$tmp/train.h5.train.ckpt.h5"

# --- similarity: rank 1 killed at its 2nd ring step ---------------------------
cp "$tmp/ref_train.h5" "$tmp/sim.h5"; before=$(sha "$tmp/sim.h5")
killrun "$tmp/sim1.log" "kill:similarity.step#2@1" similarity "$tmp/sim.h5"
killed "similarity" "$rc" "$t0" "$t1" "$limit"
check "similarity: catalog byte-identical" same "$(sha "$tmp/sim.h5")" "$before"
check "similarity: catalog readable (heads intact)" readable "$tmp/sim.h5"
rc=0; mx 2 similarity "$tmp/sim.h5" > "$tmp/sim2.log" 2>&1 || rc=$?
check "similarity rerun: exit 0" same "$rc" 0
grep -q "resuming the interrupted work copy" "$tmp/sim2.log" && echo "     (the rerun reused the work copy)"
check "similarity rerun: equal to the uninterrupted run" h5same "$tmp/ref_sim.h5" "$tmp/sim.h5"

# --- similarity: a real kill -9 of rank 1 (pid from mpirun's children) --------
# A slow run: 1 thread, block 16 and 2 more ring steps' worth of names; the kill
# lands while rank 1 lives (after the "similarity" start line).
cp "$tmp/ref_train.h5" "$tmp/simk.h5"; before=$(sha "$tmp/simk.h5")
t0=$(date +%s); rc=0
( exec timeout 180 $mpiexec -n 2 "$bin" similarity "${sets[@]}" "$tmp/simk.h5" > "$tmp/simk1.log" 2>&1 ) &
job=$!
r1=""
for _ in $(seq 200); do
  # mpirun's children are the ranks (timeout -> mpirun -> assort x2); rank 1 is the later pid
  r1=$(pgrep -f "assort similarity" -P "$(pgrep -P "$job" -d, || echo 1)" -d' ' | awk '{print $NF}' || true)
  [ -n "$r1" ] && grep -q "\[similarity\]" "$tmp/simk1.log" 2>/dev/null && break
  sleep 0.05
done
if [ -n "$r1" ]; then kill -9 "$r1" 2>/dev/null || true; fi
wait "$job" || rc=$?
t1=$(date +%s)
if grep -q "wrote\|near-duplicate groups" "$tmp/simk1.log"; then
  # The run won the race: it committed (that line comes after the commit), so the
  # catalog must equal the uninterrupted run's. The kill may still have landed in
  # the teardown after the commit (main's last agreement, MPI_Finalize): exit 0,
  # or 137 then (seen once on a loaded machine).
  echo "     (similarity committed before the kill (exit $rc); real-kill case not exercised this time)"
  sim_done_ok() { { [ "$rc" = 0 ] || [ "$rc" = 137 ]; } && h5same "$tmp/ref_sim.h5" "$tmp/simk.h5"; }
  check "similarity, committed before the kill: exit 0 or 137, equal to the uninterrupted run" sim_done_ok
else
  killed "similarity, real kill -9 of pid $r1" "$rc" "$t0" "$t1" "$limit"
  check "similarity, real kill: catalog byte-identical" same "$(sha "$tmp/simk.h5")" "$before"
  rc=0; mx 2 similarity "$tmp/simk.h5" > "$tmp/simk2.log" 2>&1 || rc=$?
  check "similarity rerun after the real kill: equal to the uninterrupted run" h5same "$tmp/ref_sim.h5" "$tmp/simk.h5"
fi

# --- classify: rank 1 killed before level 2 of 2 ------------------------------
mkdir -p "$tmp/cls" && cp "$tmp/ref_sim.h5" "$tmp/cls/c.h5"; before=$(sha "$tmp/cls/c.h5")
killrun "$tmp/cls1.log" "kill:classify.level#2@1" classify "$tmp/cls/c.h5"
killed "classify" "$rc" "$t0" "$t1" "$limit"
check "classify: catalog byte-identical" same "$(sha "$tmp/cls/c.h5")" "$before"
check "classify: catalog readable (similarity intact)" readable "$tmp/cls/c.h5"
check "classify: no export written" test ! -e "$tmp/cls/predictions.csv"
rc=0; mx 2 classify "$tmp/cls/c.h5" > "$tmp/cls2.log" 2>&1 || rc=$?
check "classify rerun: exit 0" same "$rc" 0
check "classify rerun: equal to the uninterrupted run" h5same "$tmp/ref_cls/c.h5" "$tmp/cls/c.h5"
check "classify rerun: predictions.csv identical" cmp -s "$tmp/ref_cls/predictions.csv" "$tmp/cls/predictions.csv"
check "classify rerun: predictions.jsonl identical" cmp -s "$tmp/ref_cls/predictions.jsonl" "$tmp/cls/predictions.jsonl"
echo "$([ $fail = 0 ] && echo passed || echo FAILED)"
exit $fail
