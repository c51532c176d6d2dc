#!/usr/bin/env bash
# extract_reference.sh - features stored by `assort extract` equal those of
# the independent numpy reference (tools/ref/effnet_ref.py --pixels) on the
# rows' stored pixels within 1e-3 max abs: (1) images at the native 224;
# (2) images stored at 200 px and resampled (extract.resize=resample), the
# reference resampling the same stored pixels with Pillow's BILINEAR.
# Skips without .venv.
source "$(dirname "$0")/extract_common.sh"
py=$src/.venv/bin/python
ref=$src/tools/ref/effnet_ref.py
[ -x "$py" ] || skip "no .venv (run tools/setup-deps)"
[ -f "$ref" ] || skip "no $ref"
for s in 224 200; do
  "$util" mkcat "$tmp/c$s.h5" 7 $s
  ax "$tmp/c$s.h5" --batch 3 > "$tmp/c$s.log" 2>&1
  [ $s = 200 ] && check "200 px: the log says it resamples" grep -q "resampling (bilinear)" "$tmp/c$s.log"
  "$py" - "$tmp/c$s.h5" "$tmp/px$s.npy" <<'PY'
import sys, h5py, numpy as np
from PIL import Image
f = h5py.File(sys.argv[1], "r")
rows = [0, 3, 6]
px = f["/images/pixels"][rows]
if px.shape[1] != 224:
    px = np.stack([np.asarray(Image.fromarray(p).resize((224, 224), Image.BILINEAR)) for p in px])
np.save(sys.argv[2], px)
np.save(sys.argv[2] + ".feat.npy", f["/features/lite0/data"][rows])
PY
  "$py" "$ref" --weights "$weights" --pixels "$tmp/px$s.npy" --features "$tmp/ref$s.npy" > /dev/null
  check "$s px: stored features vs effnet_ref.py within 1e-3" "$py" -c "
import numpy as np, sys
a = np.load('$tmp/px$s.npy.feat.npy'); b = np.load('$tmp/ref$s.npy')
d = float(np.abs(a - b).max()); print('  max abs diff %.2e (|F| max %.2f)' % (d, float(np.abs(b).max())))
sys.exit(0 if a.shape == b.shape and d <= 1e-3 else 1)"
done
exit $fail
