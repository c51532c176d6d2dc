#!/usr/bin/env bash
# sim_knn_ranks.sh - the kNN result is byte-identical for 1 and 2 ranks
# (indices, scores and the extra pair scores), and each run matches the
# double-precision reference (checked inside test_sim_knn).
set -euo pipefail
bin="$ASSORT_BUILD/tests/test_sim_knn"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$MPIEXEC -n 1 "$bin" "$tmp/one" >"$tmp/log1" 2>&1 || { cat "$tmp/log1"; exit 1; }
$MPIEXEC -n 2 "$bin" "$tmp/two" >"$tmp/log2" 2>&1 || { cat "$tmp/log2"; exit 1; }
# the 2-rank result is the concatenation of the per-rank slices in row order;
# each slice file is (rows*k int64, rows*k float, rows float), so compare
# per part after splitting by the shard sizes.
python3 - "$tmp" <<'PY'
import sys, struct
d = sys.argv[1]
k = 10
one = open(f"{d}/one.0", "rb").read()
parts = [open(f"{d}/two.{r}", "rb").read() for r in range(2)]
def split(b):
    rows = len(b) // (k * 8 + k * 4 + 4)
    return b[:rows*k*8], b[rows*k*8:rows*k*12], b[rows*k*12:]
o = split(one)
t = [split(p) for p in parts]
for i, name in enumerate(["indices", "scores", "pair scores"]):
    joined = t[0][i] + t[1][i]
    if joined != o[i]:
        sys.exit(f"sim_knn_ranks: {name} differ between 1 and 2 ranks")
    print(f"{name}: identical ({len(joined)} bytes)")
PY
echo "sim_knn_ranks: 1-rank and 2-rank results are identical"
