#!/usr/bin/env bash
# bench_names.sh - assort name similarity vs RapidFuzz process.cdist on the
# fashion names, same run, same machine, runs interleaved. Needs
# tools/setup-deps --bench and a build with tools/bench_names.
#   tools/bench/bench_names.sh [BUILD_DIR] [RAPIDFUZZ_QUERIES=4000] [REPS=3] [THREADS="1 2"]
# For each thread count T: REPS x (assort with OMP_NUM_THREADS=T over all
# N x N pairs, exact top-20; RapidFuzz cdist(fuzz.ratio, workers=T) over
# RAPIDFUZZ_QUERIES x N pairs), the load average before each run, then the
# medians and their ratio. Both sides report pairs scored per second: assort
# counts all N x N pairs (its result is the exact top-k over all of them,
# though the pruned search does not read every posting) and includes the
# index build; RapidFuzz returns the full score matrix.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
rq=${2:-4000}
reps=${3:-3}
threads=${4:-"1 2"}
csv=${ASSORT_SHARED:-$src/../shared}/data/fashion/catalog.csv
[ -f "$csv" ] || { echo "bench_names: $csv not found (shared fashion data absent)"; exit 77; }
[ -x "$src/.venv/bin/python" ] || { echo "bench_names: run tools/setup-deps --bench first"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$build/tools/bench_names" "$csv" 20 "$tmp/names.txt" pruned 1 > /dev/null
median() { sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo "machine: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for t in $threads; do
  : > "$tmp/a$t"; : > "$tmp/b$t"; : > "$tmp/l$t"
  for r in $(seq "$reps"); do
    la=$(cut -d' ' -f1 /proc/loadavg); echo "$la" >> "$tmp/l$t"
    OMP_NUM_THREADS=$t "$build/tools/bench_names" "$csv" 20 "" pruned > "$tmp/o"
    a=$(awk '/^ASSORT_PAIRS_PER_S/{print $2}' "$tmp/o"); echo "$a" >> "$tmp/a$t"
    echo "threads=$t rep=$r load=$la assort: $(grep '^assort build' "$tmp/o")"
    lb=$(cut -d' ' -f1 /proc/loadavg); echo "$lb" >> "$tmp/l$t"
    "$src/.venv/bin/python" "$src/tools/bench/bench_names.py" "$tmp/names.txt" "$rq" "$t" > "$tmp/o"
    b=$(awk '/^RAPIDFUZZ_PAIRS_PER_S/{print $2}' "$tmp/o"); echo "$b" >> "$tmp/b$t"
    echo "threads=$t rep=$r load=$lb $(head -1 "$tmp/o")"
  done
  ma=$(median < "$tmp/a$t"); mb=$(median < "$tmp/b$t"); ml=$(median < "$tmp/l$t")
  python3 -c "print(f'threads={$t}: median assort {$ma:.3g} pairs/s, median rapidfuzz {$mb:.3g} pairs/s, ratio {$ma / $mb:.2f} (goal >= 1.0), median load {$ml}')"
done
