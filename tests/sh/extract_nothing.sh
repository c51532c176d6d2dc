#!/usr/bin/env bash
# extract_nothing.sh - `assort extract` with nothing to do (every active row
# valid, none dirty) says "nothing to extract" and leaves the catalog byte
# for byte unchanged (no work copy, no commit, no run recorded), on 1 rank and
# on 2; one dirty row afterwards is extracted as usual (the full path still
# runs); --all always does the work.
source "$(dirname "$0")/extract_common.sh"
"$util" mkcat "$tmp/c.h5" 10 224            # row 8 removed: 9 active
ax "$tmp/c.h5" --batch 4 > "$tmp/first.log" 2>&1 || { cat "$tmp/first.log"; exit 1; }
check "first run extracts 9" grep -q " 9 of 10 products to extract" "$tmp/first.log"
cp "$tmp/c.h5" "$tmp/before.h5"
ax "$tmp/c.h5" --batch 4 > "$tmp/one.log" 2>&1 || { cat "$tmp/one.log"; exit 1; }
check "1 rank: says nothing to extract" grep -q "0 of 10 products to extract: nothing to extract" "$tmp/one.log"
check "1 rank: no copy, no commit logged" bash -c "! grep -q committed '$tmp/one.log'"
check "1 rank: catalog byte for byte unchanged" cmp -s "$tmp/c.h5" "$tmp/before.h5"
check "1 rank: no work copy left" test ! -e "$tmp/c.h5.work"
$mpiexec -n 2 "$bin" extract "$tmp/c.h5" --batch 2 --set run.threads=1 \
  --set extract.weights_dir="$src/weights" --device cpu > "$tmp/two.log" 2>&1 || { cat "$tmp/two.log"; exit 1; }
check "2 ranks: says nothing to extract" grep -q "nothing to extract" "$tmp/two.log"
check "2 ranks: catalog byte for byte unchanged" cmp -s "$tmp/c.h5" "$tmp/before.h5"
"$util" repaint "$tmp/c.h5" 5
ax "$tmp/c.h5" --batch 4 > "$tmp/dirty.log" 2>&1 || { cat "$tmp/dirty.log"; exit 1; }
check "one dirty row: extracted and committed" grep -q "1 of 10 products to extract (1 dirty" "$tmp/dirty.log"
check "one dirty row: exactly row 5 changed" same "$("$util" rowdiff "$tmp/before.h5" "$tmp/c.h5" /features/lite0/data)" "5"
ax "$tmp/c.h5" --all --batch 4 > "$tmp/all.log" 2>&1 || { cat "$tmp/all.log"; exit 1; }
check "--all on a clean catalog still redoes the 9 active rows" grep -q " 9 of 10 products to extract" "$tmp/all.log"
exit $fail
