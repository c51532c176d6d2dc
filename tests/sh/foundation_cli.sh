#!/usr/bin/env bash
# The CLI contract: --help everywhere, documented exit codes for usage errors.
set -euo pipefail
out=$("$ASSORT_BIN" --help)
grep -q "^commands:" <<<"$out"
grep -q "exit codes: 0 ok, 1 failure, 2 usage/config error, 3 bad input data" <<<"$out"
# every listed command has --help that exits 0 and documents the common options
for cmd in $(awk '/^commands:/{f=1;next} f&&/^  [a-z]/{print $1} /^$/{if(f)exit}' <<<"$out"); do
  h=$("$ASSORT_BIN" "$cmd" --help)
  grep -q "^usage: assort $cmd" <<<"$h" || { echo "$cmd --help lacks usage"; exit 1; }
  grep -q -- "--config FILE" <<<"$h" || { echo "$cmd --help lacks --config"; exit 1; }
  grep -q -- "--set KEY=VALUE" <<<"$h" || { echo "$cmd --help lacks --set"; exit 1; }
done
set +e
"$ASSORT_BIN" nosuchcommand 2>/dev/null; rc=$?
[ $rc -eq 2 ] || { echo "unknown command: exit $rc, want 2"; exit 1; }
"$ASSORT_BIN" info 2>/dev/null; rc=$?
[ $rc -eq 2 ] || { echo "missing argument: exit $rc, want 2"; exit 1; }
"$ASSORT_BIN" info --bogus x.h5 2>/dev/null; rc=$?
[ $rc -eq 2 ] || { echo "unknown option: exit $rc, want 2"; exit 1; }
"$ASSORT_BIN" 2>/dev/null >/dev/null; rc=$?
[ $rc -eq 2 ] || { echo "no command: exit $rc, want 2"; exit 1; }
set -e
# --version names the MPI library and the PML: on one node, with OMPI_MCA_pml
# unset, assort asks Open MPI for ob1 (dist_init); a user's choice is kept.
v=$(env -u OMPI_MCA_pml "$ASSORT_BIN" --version)
grep -q "^MPI: .*, 1 rank(s); PML: ob1 (assort's choice: all ranks on one node" <<<"$v" \
  || { echo "singleton --version: $v"; exit 1; }
v=$(env -u OMPI_MCA_pml $MPIEXEC -n 2 "$ASSORT_BIN" --version)
grep -q "^MPI: .*, 2 rank(s); PML: ob1 (assort's choice" <<<"$v" || { echo "2-rank --version: $v"; exit 1; }
v=$(OMPI_MCA_pml=ob1 $MPIEXEC -n 2 -x OMPI_MCA_pml "$ASSORT_BIN" --version)
grep -q "2 rank(s); PML: ob1$" <<<"$v" || { echo "user's PML not kept: $v"; exit 1; }
# the choice reaches Open MPI: each rank selects ob1 and never opens cm
v=$(env -u OMPI_MCA_pml OMPI_MCA_pml_base_verbose=10 $MPIEXEC -n 2 -x OMPI_MCA_pml_base_verbose \
  "$ASSORT_BIN" --version 2>&1)
[ "$(grep -c "select: component ob1 selected" <<<"$v")" -eq 2 ] || { echo "ob1 not selected: $v"; exit 1; }
if grep -q "components_open: found loaded component cm" <<<"$v"; then echo "cm opened: $v"; exit 1; fi
echo "1 passed, 0 failed"
