#!/usr/bin/env bash
# The whole shared fashion catalog (40,072 products, 224 px: a 6 GB file)
# ingested with 2 ranks. Checks: counts and ids match the CSV (Python's csv
# module), class tables match the CSV's distinct values in order of first
# appearance, `h5dump -H` shows the documented schema, 100 sampled products'
# pixels equal Pillow's within +-2. Labelled heavy (normal build only); about
# 1.5 minutes on the 2-core machine.
set -euo pipefail
py="$ASSORT_SRC/.venv/bin/python"
src="$ASSORT_SHARED/data/fashion"
[ -x "$py" ] || { echo "SKIP: $py missing (run tools/setup-deps)"; exit 77; }
[ -f "$src/images.tar" ] || { echo "SKIP: $src absent (put the shared data beside the repo)"; exit 77; }
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
tar -xf "$src/images.tar" -C "$t"
start=$(date +%s)
$MPIEXEC -n 2 "$ASSORT_BIN" ingest --csv "$src/catalog.csv" --images "$t" "$t/c.h5" > "$t/out" 2> "$t/err" \
  || { cat "$t/err"; echo "FAIL: ingest failed"; exit 1; }
echo "ingest of the whole catalog: $(( $(date +%s) - start )) s"
cat "$t/out"
h=$(h5dump -H "$t/c.h5")
need=(
  'ATTRIBUTE "assort_format"' 'ATTRIBUTE "schema_version"' 'ATTRIBUTE "generation"'
  'GROUP "products"' 'DATASET "id"' 'DATASET "name"' 'DATASET "labels"' 'DATASET "hash"'
  'DATASET "status"' 'DATASET "dirty"' 'DATASET "image_path"' 'DATASET "source_line"'
  'GROUP "attrs"' 'DATASET "colour"' 'DATASET "usage"'
  'GROUP "categories"' 'DATASET "levels"' 'DATASET "master_category"' 'DATASET "sub_category"'
  'DATASET "article_type"'
  'GROUP "images"' 'DATASET "pixels"' 'ATTRIBUTE "image_size"' 'ATTRIBUTE "fit"' 'ATTRIBUTE "upscale"'
  'ATTRIBUTE "background"' 'ATTRIBUTE "complete"'
  'GROUP "runs"' 'GROUP "rejects"'
  'DATASPACE  SIMPLE { ( 40072, 224, 224, 3 ) / ( H5S_UNLIMITED, 224, 224, 3 ) }'
  'DATASPACE  SIMPLE { ( 40072, 3 ) / ( H5S_UNLIMITED, 3 ) }'
  'DATASPACE  SIMPLE { ( 40072, 16 ) / ( H5S_UNLIMITED, 16 ) }'
  'STRSIZE 64;' 'STRSIZE 256;' 'STRSIZE 512;' 'STRSIZE 128;' 'CSET H5T_CSET_UTF8;'
)
for s in "${need[@]}"; do
  grep -qF -- "$s" <<<"$h" || { echo "FAIL: h5dump -H lacks: $s"; exit 1; }
done
echo "ok: h5dump -H shows the documented schema"
"$py" - "$t/c.h5" "$src/catalog.csv" "$t" "$ASSORT_SRC/tools/ref/resize_ref.py" <<'PY'
import csv, subprocess, sys, h5py, numpy as np
cat, csvp, root, ref = sys.argv[1:5]
rows = list(csv.DictReader(open(csvp, newline="", encoding="utf-8")))
with h5py.File(cat, "r") as f:
    ids = [s.decode() for s in f["/products/id"][:]]
    assert ids == [r["id"] for r in rows], "ids/order differ from the CSV"
    names = f["/products/name"][:]
    assert all(a.decode() == r["name"] for a, r in zip(names, rows)), "names differ"
    lab = f["/products/labels"][:]
    for l, col in enumerate(["master_category", "sub_category", "article_type"]):
        order = list(dict.fromkeys(r[col] for r in rows if r[col]))
        table = [s.decode() for s in f[f"/categories/{col}"][:]]
        assert table == order, col
        idx = {c: i for i, c in enumerate(order)}
        assert all(lab[i, l] == (idx[r[col]] if r[col] else -1) for i, r in enumerate(rows)), col
    print("classes per level:", [f[f"/categories/{c}"].shape[0] for c in ["master_category", "sub_category", "article_type"]])
    assert (f["/products/status"][:] == 0).all() and (f["/products/dirty"][:] == 1).all()
    colour = f["/products/attrs/colour"][:]
    assert all(a.decode() == r["colour"] for a, r in zip(colour, rows)), "colour differs"
    sample = list(range(0, len(rows), len(rows) // 100))[:100]
    pix = [f["/images/pixels"][i] for i in sample]
    paths = [rows[i]["image"] for i in sample]
subprocess.run([sys.executable, ref, "resize", "--side", "224", "--fit", "pad", "--filter", "bilinear",
                "--out", f"{root}/ref"] + [f"{root}/{p}" for p in paths], check=True)
worst = 0
for p, a in zip(paths, pix):
    b = np.fromfile(f"{root}/ref/{p.rsplit('/', 1)[-1]}.rgb", dtype=np.uint8).reshape(224, 224, 3)
    worst = max(worst, int(np.abs(a.astype(int) - b.astype(int)).max()))
print(f"{len(rows)} products match the CSV; max |assort - Pillow| over {len(sample)} products: {worst}")
sys.exit(0 if worst <= 2 else 1)
PY
echo "1 passed, 0 failed"
