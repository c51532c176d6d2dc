#!/usr/bin/env bash
# rel_catalog_lock - two writers on one catalog (src/catalog/lock.h): the
# second waits for the first's commit and both results are in the catalog (no
# lost update: without the lock the second would remove the first's work copy
# and the first would rename the second's half-written copy over the catalog);
# the waiting side names the holder; ASSORT_LOCK_WAIT_S=0 refuses at once
# (exit 1); SIGUSR1 while waiting gives exit 4 with nothing written; a holder
# killed with SIGKILL leaves no stale lock. Writers: rel_tool catalog-add
# (one process, or 2 MPI ranks).
set -uo pipefail
: "${ASSORT_BUILD:?}" "${MPIEXEC:?}"
tool="$ASSORT_BUILD/tests/rel_tool"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0
check() { # NAME CMD...
  local name=$1; shift
  if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
# names NAME...: the catalog holds /rel/NAME for each
names() {
  local n
  for n in "$@"; do h5ls "$cat/rel/$n" >/dev/null 2>&1 || { echo "  /rel/$n missing"; return 1; }; done
}
generation() { h5dump -a /generation "$cat" 2>/dev/null | sed -n 's/^ *(0): *\([0-9]*\).*/\1/p'; }
# wait_for FILE PATTERN: up to 30 s for PATTERN to appear in FILE
wait_for() {
  local i
  for i in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "  '$2' never appeared in $1:"; cat "$1"; return 1
}
cat="$tmp/cat.h5"

# 1. a catalog with /rel/a
quiet() { "$@" >/dev/null; }
check "first writer creates the catalog" quiet "$tool" catalog-add "$cat" a 0

# 2. b holds the lock 4 s; c (2 ranks) starts meanwhile: it waits, then commits after b
"$tool" catalog-add "$cat" b 4 > "$tmp/b.log" 2>&1 &
bpid=$!
# b has begun once its work copy exists (not synchronised on the lock itself,
# so that without the lock c really runs inside b's transaction)
for i in $(seq 300); do [ -e "$cat.work" ] && break; sleep 0.1; done
check "the lock file names its holder b" grep -q "stage rel, pid $bpid on host" "$cat.lock"
t0=$(date +%s.%N)
rc=0
$MPIEXEC -n 2 "$tool" catalog-add "$cat" c 0 > "$tmp/c.log" 2>&1 || rc=$?
t1=$(date +%s.%N)
wait "$bpid"; brc=$?
check "holder b: exit 0" test "$brc" -eq 0
check "waiting writer c (2 ranks): exit 0" test "$rc" -eq 0
check "c said who holds the lock" grep -q "is being written by another assort (stage rel, pid $bpid on host" "$tmp/c.log"
check "c waited for b (>= 1.5 s)" awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 1.5) }'
check "c logged that it got the lock" grep -q "got the writer lock $cat.lock after" "$tmp/c.log"
check "no update lost: /rel/a, /rel/b and /rel/c are all there" names a b c
# (a new catalog commits as generation 0; +1 per later commit)
check "generation 2 after three commits" test "$(generation)" = 2
check "c saw b's commit (its base generation is 1)" \
  test "$(h5dump -d /rel/c "$cat" | sed -n 's/^ *(0): *[0-9]*, *[0-9]*, *\([0-9]*\),.*/\1/p')" = 1
check "no work copy left" test ! -e "$cat.work"

# 3. ASSORT_LOCK_WAIT_S=0 while d holds it: exit 1 at once, naming the holder
"$tool" catalog-add "$cat" d 3 > "$tmp/d.log" 2>&1 &
dpid=$!
wait_for "$cat.lock" "stage rel, pid $dpid" || fails=$((fails + 1))
rc=0
ASSORT_LOCK_WAIT_S=0 "$tool" catalog-add "$cat" e 0 > "$tmp/e.log" 2>&1 || rc=$?
check "ASSORT_LOCK_WAIT_S=0: exit 1" test "$rc" -eq 1
check "ASSORT_LOCK_WAIT_S=0: one line naming the holder and the fix" \
  grep -q "$cat is being written by another assort (stage rel, pid $dpid on host .*; lock $cat.lock): gave up after 0 s (ASSORT_LOCK_WAIT_S=0); rerun when it has finished" "$tmp/e.log"

# 4. SIGUSR1 while waiting: exit 4, nothing written
"$tool" catalog-add "$cat" f 0 > "$tmp/f.log" 2>&1 &
fpid=$!
wait_for "$tmp/f.log" "waiting for the lock" || fails=$((fails + 1))
kill -USR1 "$fpid"
wait "$fpid"; rc=$?
check "SIGUSR1 while waiting: exit 4" test "$rc" -eq 4
check "SIGUSR1 while waiting: says nothing was written" grep -q "SIGUSR1 while waiting for the writer lock $cat.lock (held by stage rel, pid $dpid.*nothing was written; rerun" "$tmp/f.log"
wait "$dpid"
check "d committed; e and f wrote nothing" bash -c "h5ls '$cat/rel/d' >/dev/null && ! h5ls '$cat/rel/e' >/dev/null 2>&1 && ! h5ls '$cat/rel/f' >/dev/null 2>&1"

# 5. a holder killed with SIGKILL leaves no stale lock
"$tool" catalog-add "$cat" g 30 > "$tmp/g.log" 2>&1 &
gpid=$!
wait_for "$cat.lock" "stage rel, pid $gpid" || fails=$((fails + 1))
kill -KILL "$gpid"; wait "$gpid" 2>/dev/null
rm -f "$cat.work" # (its half-written work copy is not this test's subject)
rc=0
ASSORT_LOCK_WAIT_S=5 "$tool" catalog-add "$cat" h 0 > "$tmp/h.log" 2>&1 || rc=$?
check "after a SIGKILLed holder the next writer runs: exit 0" test "$rc" -eq 0
check "...without waiting" bash -c "! grep -q 'waiting for the lock' '$tmp/h.log'"
check "...and its result is there" names h

echo "$fails failed"
[ "$fails" -eq 0 ]
