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
echo "1 passed, 0 failed"
