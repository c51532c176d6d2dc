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
# train.allreduce: nccl needs a CUDA device on every rank; without one it is a
# one-line usage error (exit 2) before any work, and auto falls back to mpi.
if command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L 2> /dev/null | grep -q '^GPU'; then
    echo "train_cli: a GPU is visible; the nccl refusal is not checked here"
else
    "$ASSORT_BIN" info "$cat" > "$tmp/info0"
    $MPIEXEC -n 2 "$ASSORT_BIN" train "$cat" --level type --set train.allreduce=nccl 2> "$tmp/err"
    check $? 2 "train.allreduce=nccl without a GPU"
    [ "$(grep -c '^assort' "$tmp/err")" = 1 ] || { echo "FAIL: nccl refusal is not one line: $(cat "$tmp/err")"; fail=1; }
    grep -q "train.allreduce=nccl needs a CUDA device.*train.allreduce=mpi" "$tmp/err" \
        || { echo "FAIL: nccl refusal does not name the key and the fix: $(cat "$tmp/err")"; fail=1; }
    "$ASSORT_BIN" info "$cat" | cmp -s - "$tmp/info0" || { echo "FAIL: the refused run changed the catalog"; fail=1; }
    $MPIEXEC -n 2 "$ASSORT_BIN" train "$cat" --level type --set train.epochs=2 2> "$tmp/err"
    check $? 0 "train.allreduce=auto without a GPU"
    grep -q "gradient allreduce: mpi (train.allreduce=auto)" "$tmp/err" \
        || { echo "FAIL: auto did not pick mpi: $(cat "$tmp/err")"; fail=1; }
fi
"$ASSORT_BIN" train "$cat" --set train.allreduce=ring 2> "$tmp/err"; check $? 2 "train.allreduce=ring"
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
