#!/bin/bash
# Data-parallel training gives the same weights with 1, 2 and 4 ranks (same
# global batch and seed), within 1e-5 relative (max|a-b| <= 1e-5 max|b|).
set -euo pipefail
bin="$ASSORT_BUILD/tests/test_train_dist"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for n in 1 2 4; do
    echo "== $n rank(s)"
    $MPIEXEC -n $n "$bin" "$tmp/w$n.bin"
done
"$bin" --compare "$tmp/w2.bin" "$tmp/w1.bin"
"$bin" --compare "$tmp/w4.bin" "$tmp/w1.bin"
