#!/usr/bin/env bash
# sim_cmd.sh - `assort similarity` end to end on a synthetic catalog with
# near-duplicates: results match a brute-force reference (test_sim_cmd check)
# and are identical for 1 and 2 ranks; --query dirty queries only dirty rows.
set -euo pipefail
helper="$ASSORT_BUILD/tests/test_sim_cmd"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$helper" make "$tmp/a.h5"
cp "$tmp/a.h5" "$tmp/b.h5"; cp "$tmp/a.h5" "$tmp/d.h5"
$MPIEXEC -n 1 "$ASSORT_BIN" similarity "$tmp/a.h5" >"$tmp/log1" 2>&1 || { cat "$tmp/log1"; exit 1; }
$MPIEXEC -n 2 "$ASSORT_BIN" similarity "$tmp/b.h5" >"$tmp/log2" 2>&1 || { cat "$tmp/log2"; exit 1; }
grep -q "near-duplicate groups" "$tmp/log1"
grep -q "AUC fixed weights" "$tmp/log1"
h1=$("$helper" check "$tmp/a.h5" | tee /dev/stderr | awk '/hash/{print $4}')
h2=$("$helper" check "$tmp/b.h5" | tee /dev/stderr | awk '/hash/{print $4}')
[ -n "$h1" ] && [ "$h1" = "$h2" ] || { echo "sim_cmd: 1-rank ($h1) and 2-rank ($h2) results differ"; exit 1; }
$MPIEXEC -n 2 "$ASSORT_BIN" similarity "$tmp/d.h5" --query dirty >"$tmp/log3" 2>&1 || { cat "$tmp/log3"; exit 1; }
"$helper" check "$tmp/d.h5" | tee "$tmp/c3"
grep -q "^queries 120 " "$tmp/c3" || { echo "sim_cmd: --query dirty should query the 120 dirty rows"; exit 1; }
echo "sim_cmd: ok (1 and 2 ranks identical: $h1)"
