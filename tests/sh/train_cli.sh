#!/bin/bash
# `assort train` from the command line on a synthetic catalog (made by
# test_train_catalog in a temp dir): exit codes 0 / 2 / 4, --stop-after then
# --resume under 2 ranks, the head and JSON written, the checkpoint removed.
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$MPIEXEC -n 2 "$ASSORT_BUILD/tests/test_train_catalog" "$tmp" > "$tmp/log" 2>&1 \
    || { tail -20 "$tmp/log"; echo "FAIL: could not make the catalog"; exit 1; }
cat="$tmp/train_cat.h5"
fail=0
check() { if [ "$1" != "$2" ]; then echo "FAIL: $3: exit $1, expected $2"; fail=1; fi; }
"$ASSORT_BIN" train "$cat" --level colour 2> "$tmp/err"; check $? 2 "unknown level"
grep -q "levels: master, type" "$tmp/err" || { echo "FAIL: levels not listed: $(cat "$tmp/err")"; fail=1; }
$MPIEXEC -n 2 "$ASSORT_BIN" train "$cat" --level type --head mlp --set train.epochs=3 --stop-after 1 2> "$tmp/err"
check $? 4 "--stop-after"
[ -f "$cat.train.ckpt.h5" ] || { echo "FAIL: no checkpoint after --stop-after"; fail=1; }
$MPIEXEC -n 2 "$ASSORT_BIN" train "$cat" --level type --head mlp --set train.epochs=3 --resume 2> "$tmp/err"
check $? 0 "--resume"
grep -q "resuming after epoch 1" "$tmp/err" || { echo "FAIL: did not resume"; fail=1; }
[ ! -f "$cat.train.ckpt.h5" ] || { echo "FAIL: checkpoint left after success"; fail=1; }
"$ASSORT_BIN" info "$cat" | grep -q "lite0-type-mlp *complete" || { echo "FAIL: head not listed complete"; fail=1; }
ls "$cat".train-*.json > /dev/null 2>&1 || { echo "FAIL: no run JSON"; fail=1; }
[ $fail = 0 ] && echo "train_cli: ok"
exit $fail
