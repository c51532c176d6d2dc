#!/usr/bin/env bash
# 2-rank collective write/read round trip of the catalog format, then the file
# is checked with h5dump (schema attributes, dataset shapes, a value) and
# `assort info`.
set -euo pipefail
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
f="$t/round.h5"
$MPIEXEC -n 2 "$ASSORT_BUILD/tests/test_catalog_mpi" "$f" 1003
h=$(h5dump -H "$f")
grep -q 'ATTRIBUTE "assort_format"' <<<"$h"
grep -q 'ATTRIBUTE "schema_version"' <<<"$h"
grep -q 'DATASET "pixels"' <<<"$h"
grep -q 'DATASPACE  SIMPLE { ( 1003, 8, 8, 3 ) / ( H5S_UNLIMITED, 8, 8, 3 ) }' <<<"$h"
grep -q 'DATASPACE  SIMPLE { ( 1003, 2 ) / ( H5S_UNLIMITED, 2 ) }' <<<"$h"
# Row 500's id was written by rank 1 (rows 502..1002 belong to rank 1; 500 to rank 0) — check both.
h5dump -d /products/id -s 500 -c 1 "$f" | grep -q '"P000500"'
h5dump -d /products/id -s 1002 -c 1 "$f" | grep -q '"P001002"'
h5dump -a /schema_version "$f" | grep -q '(0): 1'
out=$("$ASSORT_BIN" info "$f")
echo "$out"
grep -q '^products: *1003 ' <<<"$out"
grep -q 'schema version:  1' <<<"$out"
grep -q 'images: *1003 x 8 x 8 x 3 uint8' <<<"$out"
# info under 2 ranks prints once
n=$($MPIEXEC -n 2 "$ASSORT_BIN" info "$f" | grep -c '^products:')
[ "$n" = 1 ]
# not a catalog -> exit 3 with a one-line message naming the file
echo "hello" > "$t/x.h5"
set +e; msg=$("$ASSORT_BIN" info "$t/x.h5" 2>&1); rc=$?; set -e
[ $rc -eq 3 ] || { echo "expected exit 3, got $rc: $msg"; exit 1; }
grep -q "x.h5: not a readable HDF5 file" <<<"$msg"
# truncated catalog -> exit 3
head -c 3000 "$f" > "$t/trunc.h5"
set +e; msg=$("$ASSORT_BIN" info "$t/trunc.h5" 2>&1); rc=$?; set -e
[ $rc -eq 3 ] || { echo "expected exit 3 for truncated file, got $rc: $msg"; exit 1; }
echo "1 passed, 0 failed"
