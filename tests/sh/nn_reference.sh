#!/usr/bin/env bash
# nn_reference.sh - the C CPU backbone against the independent numpy reference
# (tools/ref/effnet_ref.py) on the real ImageNet weights:
#   features max abs diff <= 1e-3 and identical logits top-1, for deterministic
#   pixels and (when .cache/sanity has them) real photos resized by the
#   reference's own Pillow path; the photos' top-1 must also match their known
#   ImageNet classes (grace_hopper 652, chelsea 281/282/285, coffee 967/968/504,
#   china 698 within top-5). Lite0 always; lite1/lite2 when their weights exist
#   or can be imported.
# Skips (77) when .venv, the reference, or the weights (and the importer) are absent.
set -euo pipefail
src=${ASSORT_SRC:?}
build=${ASSORT_BUILD:?}
tools=${ASSORT_TOOLS_DIR:-$src/tools}   # override only to try another checkout's tools
py=$src/.venv/bin/python
ref=$tools/ref/effnet_ref.py
bin=$build/tests/test_nn_features
skip() { echo "SKIP: $*"; exit 77; }
[ -x "$py" ] || skip "no .venv (run tools/setup-deps)"
[ -f "$ref" ] || skip "no $ref (the numpy reference, from the weights branch)"
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }

weights_for() {  # model -> path, importing it when possible
  local w=$src/weights/efficientnet_$1.h5
  if [ ! -f "$w" ] && [ -x "$tools/import-weights" ]; then
    "$tools/import-weights" --model "$1" --out-dir "$src/weights" >&2 || true
  fi
  [ -f "$w" ] && echo "$w"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nn_reference.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
w0=$(weights_for lite0) || skip "no weights/efficientnet_lite0.h5 and tools/import-weights could not make it"

fail=0
for model in lite0 lite1 lite2; do
  if [ "$model" = lite0 ]; then w=$w0; else w=$(weights_for $model) || { echo "note: $model weights absent, not compared"; continue; }; fi
  size=$("$py" -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r').attrs['image_size']))" "$w")
  # Deterministic pixels: uniform noise, a smooth colour gradient, a flat grey
  # image and a checkerboard (odd/even edges of the SAME padding all matter).
  "$py" - "$tmp/$model.px.npy" "$size" "$ref" "$src/.cache/sanity" <<'PY'
import glob, os, sys
import numpy as np
out, s, ref, sanity = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rng = np.random.default_rng(20240611)
y, x = np.mgrid[0:s, 0:s]
grad = np.stack([x * 255 // (s - 1), y * 255 // (s - 1), (x + y) * 255 // (2 * s - 2)], -1)
checker = (((x // 7 + y // 7) % 2) * 255)[..., None].repeat(3, -1)
imgs = [rng.integers(0, 256, (s, s, 3)), grad, np.full((s, s, 3), 128), checker]
names = ["noise", "gradient", "grey", "checker"]
photos = sorted(glob.glob(os.path.join(sanity, "*.jpg")) + glob.glob(os.path.join(sanity, "*.png")))
if photos:
    sys.path.insert(0, os.path.dirname(ref))
    import effnet_ref  # the reference's own Pillow resize, so both sides see the same pixels
    imgs += list(effnet_ref.load_images(photos, s))
    names += [os.path.basename(p) for p in photos]
np.save(out, np.asarray(imgs, dtype=np.uint8))
open(out + ".names", "w").write("\n".join(names) + "\n")
PY
  "$bin" "$w" "$tmp/$model.px.npy" "$tmp/$model.c_feat.npy" "$tmp/$model.c_logit.npy" --batch 3
  "$py" "$ref" --weights "$w" --pixels "$tmp/$model.px.npy" \
        --features "$tmp/$model.r_feat.npy" --logits "$tmp/$model.r_logit.npy" >/dev/null
  "$py" - "$tmp/$model" "$model" <<'PY' || fail=1
import sys
import numpy as np
base, model = sys.argv[1], sys.argv[2]
cf, rf = np.load(base + ".c_feat.npy"), np.load(base + ".r_feat.npy")
cl, rl = np.load(base + ".c_logit.npy"), np.load(base + ".r_logit.npy")
names = open(base + ".px.npy.names").read().split()
assert cf.shape == rf.shape and cl.shape == rl.shape, (cf.shape, rf.shape, cl.shape, rl.shape)
ok = True
known = {"grace_hopper.jpg": ({652}, 1), "chelsea.png": ({281, 282, 285}, 1),
         "coffee.png": ({967, 968, 504}, 1), "china.jpg": ({698}, 5)}
for i, n in enumerate(names):
    d = float(np.abs(cf[i] - rf[i]).max())
    ct, rt = int(cl[i].argmax()), int(rl[i].argmax())
    top5 = [int(k) for k in np.argsort(-cl[i])[:5]]
    line = f"{model} {n:18s} max|dF|={d:.2e} (|F|max {np.abs(rf[i]).max():.2f}) top1 C={ct} ref={rt} top5={top5}"
    bad = d > 1e-3 or not np.isfinite(cf[i]).all() or ct != rt
    if n in known and model == "lite0":
        want, k = known[n]
        if not want & set(top5[:k]):
            bad = True
            line += f"  expected {sorted(want)} in top-{k}"
    print(("FAIL " if bad else "ok   ") + line)
    ok &= not bad
sys.exit(0 if ok else 1)
PY
done
[ $fail -eq 0 ] && echo "nn_reference: all comparisons passed" || echo "nn_reference: FAILED"
exit $fail
