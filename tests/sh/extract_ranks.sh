#!/usr/bin/env bash
# extract_ranks.sh - features bit-identical with 1 rank x 2 threads and
# 2 ranks x 1 thread (different batch sizes too); dirty-only extraction
# extracts exactly the dirty rows and clears them (the result equals a full
# extraction of the changed catalog); --all redoes every active row; float16
# storage within half precision of float32 (HDF5's own conversion, and h5py
# when .venv exists).
source "$(dirname "$0")/extract_common.sh"

"$util" mkcat "$tmp/orig.h5" 22 224        # rows 8 and 17 removed: 20 active
for x in one two dirty all f16; do cp "$tmp/orig.h5" "$tmp/$x.h5"; done

ax "$tmp/one.h5" --batch 4 --set run.threads=2 > "$tmp/one.log" 2>&1
$mpiexec -n 2 "$bin" extract "$tmp/two.h5" --batch 3 --set run.threads=1 \
  --set extract.weights_dir="$src/weights" --device cpu > "$tmp/two.log" 2>&1
for d in data normalized valid; do
  check "1 rank vs 2 ranks: /features/lite0/$d identical" same "$(digest "$tmp/one.h5" $d)" "$(digest "$tmp/two.h5" $d)"
done
check "20 active rows valid" same "$("$util" count "$tmp/one.h5" /features/lite0/valid)" 20
check "dirty cleared on active rows only (2 removed keep theirs)" same "$("$util" count "$tmp/two.h5" /products/dirty)" 2
check "log names 20 rows to extract" grep -q "20 of 22 products to extract" "$tmp/one.log"

# dirty-only: new pictures for rows 3, 10, 21 of an extracted catalog
cp "$tmp/two.h5" "$tmp/dirty.h5"
"$util" repaint "$tmp/dirty.h5" 3 10 21
"$util" repaint "$tmp/all.h5" 3 10 21           # the same change, never extracted
$mpiexec -n 2 "$bin" extract "$tmp/dirty.h5" --batch 2 --set run.threads=1 \
  --set extract.weights_dir="$src/weights" --device cpu > "$tmp/dirty.log" 2>&1
check "dirty run extracts 3 rows" grep -q "3 of 22 products to extract (3 dirty" "$tmp/dirty.log"
check "exactly rows 3,10,21 changed" same "$("$util" rowdiff "$tmp/two.h5" "$tmp/dirty.h5" /features/lite0/data)" "3,10,21"
check "dirty flags cleared" same "$("$util" count "$tmp/dirty.h5" /products/dirty)" 2
ax "$tmp/all.h5" --all --batch 5 > "$tmp/all.log" 2>&1
check "dirty-only result equals a full extraction of the changed catalog" \
  same "$(digest "$tmp/dirty.h5" data)" "$(digest "$tmp/all.h5" data)"
ax "$tmp/all.h5" --all --batch 8 > "$tmp/all2.log" 2>&1
check "--all on a clean catalog redoes the 20 active rows" grep -q "20 of 22 products to extract" "$tmp/all2.log"
check "--all twice: same features" same "$(digest "$tmp/dirty.h5" data)" "$(digest "$tmp/all.h5" data)"
ax "$tmp/all.h5" > "$tmp/none.log" 2>&1
check "nothing dirty: nothing extracted" grep -q " 0 of 22 products to extract" "$tmp/none.log"

# extract.cpu_gemm=openblas: the issue's OpenBLAS path for every convolution GEMM gives the
# same features as the default (our packed GEMM on AVX-512 CPUs) within 1e-4, and the log says
# which GEMM ran
cp "$tmp/orig.h5" "$tmp/blas.h5"
ax "$tmp/blas.h5" --batch 4 --set extract.cpu_gemm=openblas > "$tmp/blas.log" 2>&1
check "openblas run: log names OpenBLAS sgemm" grep -q "GEMMs on OpenBLAS sgemm (extract.cpu_gemm=openblas)" "$tmp/blas.log"
check "default run: log names the GEMM it used" grep -Eq "GEMMs on (the packed AVX-512 GEMM|OpenBLAS sgemm) \(extract.cpu_gemm=auto\)" "$tmp/one.log"
if [ -x "$src/.venv/bin/python" ]; then
  check "extract.cpu_gemm=openblas within 1e-4 of the default, 20 valid rows" \
    "$src/.venv/bin/python" - "$tmp/one.h5" "$tmp/blas.h5" <<'PY'
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["/features/lite0"]
b = h5py.File(sys.argv[2], "r")["/features/lite0"]
ok = a["valid"][:] == 1
assert ok.sum() == 20 and (b["valid"][:] == a["valid"][:]).all()
d = float(np.abs(a["data"][:][ok] - b["data"][:][ok]).max())
print(f"  max |auto - openblas| = {d:.3g}")
assert 0 <= d <= 1e-4 and np.abs(a["data"][:][ok]).max() > 0.1, d
PY
else
  echo "note: no .venv, the openblas-vs-default comparison was not run"
fi

# float16
ax "$tmp/f16.h5" --set extract.dtype=float16 > "$tmp/f16.log" 2>&1
check "float16 within half precision of float32 (HDF5 conversion)" "$util" f16check "$tmp/one.h5" "$tmp/f16.h5" /features/lite0
if [ -x "$src/.venv/bin/python" ]; then
  check "h5py reads float16; values = float32 rounded; normalized copy is unit length" \
    "$src/.venv/bin/python" - "$tmp/one.h5" "$tmp/f16.h5" <<'PY'
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["/features/lite0"]
b = h5py.File(sys.argv[2], "r")["/features/lite0"]
f32, f16 = a["data"][:], b["data"][:]
assert f16.dtype == np.float16, f16.dtype
ok = a["valid"][:] == 1
assert (f16[ok] == f32[ok].astype(np.float16)).all(), "not round-to-nearest of float32"
n = a["normalized"][:][ok]
assert np.allclose(np.linalg.norm(n, axis=1), 1, atol=1e-5)
ref = f32[ok] / np.linalg.norm(f32[ok].astype(np.float64), axis=1, keepdims=True)
assert np.abs(n - ref).max() < 1e-6
print("  float16 max rel err", float(np.max(np.abs(f16[ok] - f32[ok]) / np.maximum(np.abs(f32[ok]), 1e-3))))
PY
else
  echo "note: no .venv, the h5py float16 check was not run"
fi
exit $fail
