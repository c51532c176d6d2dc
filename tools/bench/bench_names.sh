#!/usr/bin/env bash
# bench_names.sh - assort name similarity vs RapidFuzz process.cdist on the
# fashion names, same run, same machine. Needs tools/setup-deps --bench.
#   tools/bench/bench_names.sh [BUILD_DIR] [RAPIDFUZZ_QUERIES]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
rq=${2:-40072}
csv=${ASSORT_SHARED:-$src/../shared}/data/fashion/catalog.csv
[ -f "$csv" ] || { echo "bench_names: $csv not found (shared fashion data absent)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$build/tools/bench_names" "$csv" 20 "$tmp/names.txt" | tee "$tmp/a"
"$src/.venv/bin/python" "$src/tools/bench/bench_names.py" "$tmp/names.txt" "$rq" | tee "$tmp/b"
a=$(awk '/^ASSORT_PAIRS_PER_S/{print $2}' "$tmp/a")
b=$(awk '/^RAPIDFUZZ_PAIRS_PER_S/{print $2}' "$tmp/b")
python3 -c "print(f'ratio assort/rapidfuzz pairs per second = {$a / $b:.2f} (goal >= 1.0)')"
