#!/usr/bin/env bash
# extract_resume.sh - interrupted extractions resume to the same features as
# an uninterrupted run, bit for bit:
#   1. --stop-after (the SIGTERM path) on 2 ranks -> exit 4, catalog untouched,
#      work copy kept; resumed on 1 rank;
#   2. a real SIGUSR1 to a running extraction -> exit 4 (or 0 if it was done);
#      rerun;
#   3. ASSORT_FAULT=kill:extract.batch#3@1 (kill -9 of rank 1 mid-run) -> the
#      job ends non-zero within a bounded time, catalog untouched, the rerun
#      resumes or starts over, same result.
source "$(dirname "$0")/extract_common.sh"

"$util" mkcat "$tmp/orig.h5" 26 224          # rows 8, 17 removed: 24 active
for x in ref sig usr kill; do cp "$tmp/orig.h5" "$tmp/$x.h5"; done
sum0=$(sha256sum < "$tmp/orig.h5")
ax "$tmp/ref.h5" --batch 4 > "$tmp/ref.log" 2>&1
ref=$(digest "$tmp/ref.h5" data)
refn=$(digest "$tmp/ref.h5" normalized)
mx() { $mpiexec -n 2 "$bin" extract "$@" --set run.threads=1 --set extract.weights_dir="$src/weights" --device cpu; }

# 1. stop after 2 batches (2 ranks x 2 images x 2 batches = 8 rows written)
rc=0; mx "$tmp/sig.h5" --batch 2 --set extract.commit_every=1 --stop-after 2 > "$tmp/sig1.log" 2>&1 || rc=$?
check "stop-after: exit code 4" same "$rc" 4
check "stop-after: message says rerun" grep -q "rerun the same command to continue" "$tmp/sig1.log"
check "stop-after: catalog untouched" same "$(sha256sum < "$tmp/sig.h5")" "$sum0"
check "stop-after: work copy kept" test -f "$tmp/sig.h5.work"
check "stop-after: 8 rows done in the work copy" same "$("$util" count "$tmp/sig.h5.work" /features/lite0/valid)" 8
rc=0; ax "$tmp/sig.h5" --batch 3 > "$tmp/sig2.log" 2>&1 || rc=$?
check "resume on 1 rank: exit 0" same "$rc" 0
check "resume: work copy reused" grep -q "resuming the interrupted work copy" "$tmp/sig2.log"
check "resume: only the 16 remaining rows extracted" grep -q "16 of 26 products to extract" "$tmp/sig2.log"
check "resume: data equal to the uninterrupted run" same "$(digest "$tmp/sig.h5" data)" "$ref"
check "resume: normalized equal" same "$(digest "$tmp/sig.h5" normalized)" "$refn"
check "resume: dirty cleared" same "$("$util" count "$tmp/sig.h5" /products/dirty)" 2
check "resume: no work copy left" test ! -e "$tmp/sig.h5.work"

# 2. a real SIGUSR1 while running (1 image per batch, so it is mid-run)
( exec "$bin" extract "$tmp/usr.h5" --batch 1 --set run.threads=1 --set extract.weights_dir="$src/weights" \
    --device cpu > "$tmp/usr1.log" 2>&1 ) &
pid=$!
for _ in $(seq 100); do grep -q "run 2" "$tmp/usr1.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
kill -USR1 $pid 2>/dev/null || true
rc=0; wait $pid || rc=$?
check "SIGUSR1: exit code 4 (or 0 when it had finished)" test "$rc" = 4 -o "$rc" = 0
[ "$rc" = 4 ] && check "SIGUSR1: log names the signal" grep -q "stopped by SIGUSR1" "$tmp/usr1.log"
rc=0; ax "$tmp/usr.h5" --batch 5 > "$tmp/usr2.log" 2>&1 || rc=$?
check "SIGUSR1 rerun: exit 0" same "$rc" 0
check "SIGUSR1 rerun: data equal to the uninterrupted run" same "$(digest "$tmp/usr.h5" data)" "$ref"

# 3. kill -9 of rank 1 at its 3rd batch
t0=$(date +%s); rc=0
ASSORT_FAULT=kill:extract.batch#3@1 timeout 180 $mpiexec -n 2 "$bin" extract "$tmp/kill.h5" --batch 2 \
  --set run.threads=1 --set extract.commit_every=1 --set extract.weights_dir="$src/weights" --device cpu \
  > "$tmp/kill1.log" 2>&1 || rc=$?
t1=$(date +%s)
check "kill: job ends non-zero (rc $rc)" test "$rc" -ne 0
check "kill: ended by MPI, not by the timeout (rc $rc, $((t1 - t0)) s)" test "$rc" -ne 124
check "kill: catalog untouched" same "$(sha256sum < "$tmp/kill.h5")" "$sum0"
rc=0; mx "$tmp/kill.h5" --batch 2 > "$tmp/kill2.log" 2>&1 || rc=$?
check "kill rerun: exit 0" same "$rc" 0
grep -q "resuming the interrupted work copy" "$tmp/kill2.log" && echo "     (the rerun resumed the work copy)" || echo "     (the rerun started over)"
check "kill rerun: data equal to the uninterrupted run" same "$(digest "$tmp/kill.h5" data)" "$ref"
check "kill rerun: normalized equal" same "$(digest "$tmp/kill.h5" normalized)" "$refn"
check "kill rerun: dirty cleared" same "$("$util" count "$tmp/kill.h5" /products/dirty)" 2
exit $fail
