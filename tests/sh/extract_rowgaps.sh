#!/usr/bin/env bash
# extract_rowgaps.sh - the pixel read of `assort extract` with gaps in the
# row list (src/extract/extract.c io_read_pixels): a batch whose rows have a
# gap is read as one span and compacted in place; a list spread wider than
# the buffer falls back to the row-list read. Both must store, for every
# listed row, the features of that row's own pixels: checked against the
# independent numpy reference (tools/ref/effnet_ref.py) within 1e-3.
# Skips without .venv.
source "$(dirname "$0")/extract_common.sh"
py=$src/.venv/bin/python
ref=$src/tools/ref/effnet_ref.py
[ -x "$py" ] || skip "no .venv (run tools/setup-deps)"
[ -f "$ref" ] || skip "no $ref"
# 12 rows, row 8 removed (mkcat removes every 9th): --batch 3 makes the batch
# [6, 7, 9] (span 4 <= 2 x 3: one span read, row 9 moved to slot 2).
"$util" mkcat "$tmp/c.h5" 12 224
ax "$tmp/c.h5" --batch 3 > "$tmp/a.log" 2>&1 || { cat "$tmp/a.log"; exit 1; }
# then only rows 0 and 11 dirty, their features zeroed: with --batch 2 the list
# spans 12 rows > 2 x 2, the row-list fallback.
"$py" - "$tmp/c.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r+")
for r in (0, 11):
    f["/products/dirty"][r] = 1
    f["/features/lite0/data"][r] = 0
PY
ax "$tmp/c.h5" --batch 2 > "$tmp/b.log" 2>&1 || { cat "$tmp/b.log"; exit 1; }
grep -o "[0-9]* of [0-9]* products to extract[^,]*" "$tmp/b.log" || true
check "second run extracted exactly 2 products" grep -q " 2 of 12 products to extract" "$tmp/b.log"
"$py" - "$tmp/c.h5" "$tmp/px.npy" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
rows = [0, 6, 7, 9, 11]
np.save(sys.argv[2], f["/images/pixels"][rows])
np.save(sys.argv[2] + ".feat.npy", f["/features/lite0/data"][rows].astype(np.float32))
PY
"$py" "$ref" --weights "$weights" --pixels "$tmp/px.npy" --features "$tmp/ref.npy" > /dev/null
check "rows 6, 7, 9 (span read) and 0, 11 (row list) vs effnet_ref.py within 1e-3" "$py" -c "
import numpy as np, sys
a = np.load('$tmp/px.npy.feat.npy'); b = np.load('$tmp/ref.npy')
d = np.abs(a - b).max(axis=1); print('  max abs diff per row', ' '.join('%.2e' % x for x in d))
sys.exit(0 if a.shape == b.shape and float(d.max()) <= 1e-3 else 1)"
exit $fail
