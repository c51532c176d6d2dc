#!/usr/bin/env bash
# The MPI_Abort path: one rank fails (injected fault on rank 1 only), the job
# ends promptly with a non-zero code and the message is printed once.
set -euo pipefail
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
f="$t/c.h5"
$MPIEXEC -n 2 "$ASSORT_BUILD/tests/test_catalog_mpi" "$f" 10 >/dev/null
start=$(date +%s)
set +e
out=$(ASSORT_FAULT="info@1" timeout 60 $MPIEXEC -n 2 "$ASSORT_BIN" info "$f" 2>&1)
rc=$?
set -e
el=$(( $(date +%s) - start ))
echo "$out"
[ $rc -ne 0 ] || { echo "expected a non-zero exit"; exit 1; }
[ $rc -ne 124 ] || { echo "job hung (timeout)"; exit 1; }
n=$(grep -c "injected fault at info on rank 1" <<<"$out" || true)
[ "$n" = 1 ] || { echo "message printed $n times, want once"; exit 1; }
grep -q "assort: \[r1\] info: injected fault" <<<"$out"
# All ranks failing the same way (agreed) -> printed once, exit code kept.
set +e
out=$(ASSORT_FAULT="info@*" $MPIEXEC -n 2 "$ASSORT_BIN" info "$f" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || { echo "expected exit 1 when every rank fails, got $rc"; echo "$out"; exit 1; }
echo "abort took ${el}s"
echo "1 passed, 0 failed"
