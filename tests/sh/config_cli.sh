#!/usr/bin/env bash
# `assort config` end to end: output shapes, hash line, exit codes, stderr
# messages and nothing on stdout for errors, --help.
set -u
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
A="$ASSORT_BIN"
fix="$ASSORT_SRC/tests/data/config"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$A" config > "$tmp/out" 2> "$tmp/err"; rc=$?
check "resolved defaults exit 0" '[ $rc -eq 0 ]'
check "last line is the hash" 'tail -n1 "$tmp/out" | grep -Eq "^# config hash: [0-9a-f]{16}$"'
check "nested YAML" 'grep -q "^  epochs: 30$" "$tmp/out" && grep -q "^    train: 0.8$" "$tmp/out"'

"$A" config -c "$fix/mid.yaml" --set train.epochs=7 > "$tmp/out2"; rc=$?
check "-c and --set exit 0" '[ $rc -eq 0 ]'
check "--set applied after the file" 'grep -q "^  epochs: 7$" "$tmp/out2" && grep -q "^  batch: 64$" "$tmp/out2"'
check "different config, different hash" '[ "$(tail -n1 "$tmp/out")" != "$(tail -n1 "$tmp/out2")" ]'
# The printed YAML (hash line is a comment) loads back to the same hash.
"$A" config -c "$tmp/out2" > "$tmp/out3"
check "printed config reloads to the same hash" 'cmp -s "$tmp/out2" "$tmp/out3"'

"$A" config -c "$fix/err_unknown.yaml" > "$tmp/out" 2> "$tmp/err"; rc=$?
check "unknown key exits 2" '[ $rc -eq 2 ]'
check "nothing on stdout on error" '[ ! -s "$tmp/out" ]'
check "message names file:line:col and suggestion" \
  'grep -q "err_unknown.yaml:3:3: unknown key .train.epoch.; did you mean .train.epochs.?" "$tmp/err"'

"$A" config --set train.epochs=five > "$tmp/out" 2> "$tmp/err"; rc=$?
check "--set type error exits 2" '[ $rc -eq 2 ] && grep -q "^assort config: --set train.epochs=five: train.epochs: expected an integer, got .five.$" "$tmp/err"'

"$A" config --defaults > "$tmp/def"; rc=$?
check "--defaults exit 0" '[ $rc -eq 0 ]'
check "--defaults equals configs/default.yaml" 'cmp -s "$tmp/def" "$ASSORT_SRC/configs/default.yaml"'
"$A" config --markdown > "$tmp/md"; rc=$?
check "--markdown is a table" '[ $rc -eq 0 ] && head -n1 "$tmp/md" | grep -q "^| key | type | default"'
"$A" config --defaults --set train.epochs=3 > /dev/null 2>&1; rc=$?
check "--defaults with --set is a usage error" '[ $rc -eq 2 ]'
"$A" config --help > "$tmp/help"; rc=$?
check "--help exit 0 and documents options" '[ $rc -eq 0 ] && grep -q -- "--defaults" "$tmp/help" && grep -q -- "--markdown" "$tmp/help"'
exit $fail
