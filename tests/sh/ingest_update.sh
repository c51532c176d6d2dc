#!/usr/bin/env bash
# Update semantics, kill safety, rank independence and the Pillow reference on
# the 2,000-product demo sample of the shared fashion catalog (64 px images to
# keep the test quick under the sanitizers):
#   night 1 with 1 rank and with 2 ranks -> identical datasets;
#   stored pixels of 40 products == Pillow (tools/ref/resize_ref.py) within +-2;
#   night 2 = 50 re-encoded images, 30 new ids, 20 removed ids:
#     a kill -9 (fault kill:ingest.batch) and an injected failure leave the
#     catalog byte-identical; the rerun records exactly 30/50/20/1930, unchanged
#     rows keep byte-identical pixels and hashes, dirty flags right;
#   night 3 = night 1's CSV again: removed products come back.
set -euo pipefail
py="$ASSORT_SRC/.venv/bin/python"
[ -x "$py" ] || { echo "SKIP: $py missing (run tools/setup-deps)"; exit 77; }
[ -f "$ASSORT_SHARED/data/fashion/images.tar" ] || { echo "SKIP: $ASSORT_SHARED/data/fashion absent"; exit 77; }
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
ASSORT_SHARED="$ASSORT_SHARED" "$ASSORT_SRC/tools/make-demo-data" "$t/demo" 2000 >/dev/null
set_=(--set ingest.image_size=64)
ing() { "$ASSORT_BIN" ingest "${set_[@]}" "$@"; }

# --- night 1, 1 rank vs 2 ranks ------------------------------------------------
ing --csv "$t/demo/catalog.csv" --images "$t/demo" "$t/c1.h5" 2>/dev/null
$MPIEXEC -n 2 "$ASSORT_BIN" ingest "${set_[@]}" --csv "$t/demo/catalog.csv" --images "$t/demo" "$t/c2.h5" 2>/dev/null
for d in /products/id /products/name /products/labels /products/hash /products/status /products/dirty \
         /products/image_path /products/source_line /products/attrs/colour /products/attrs/usage \
         /images/pixels /categories/levels /categories/master_category /categories/sub_category \
         /categories/article_type; do
  h5diff "$t/c1.h5" "$t/c2.h5" "$d" "$d" >/dev/null || { echo "FAIL: $d differs between 1 and 2 ranks"; exit 1; }
done
echo "ok: 1 and 2 ranks give identical datasets"

# --- Pillow reference on a sample -------------------------------------------------
"$py" - "$t/c2.h5" "$t/demo" "$ASSORT_SRC/tools/ref/resize_ref.py" "$t/ref" <<'PY'
import subprocess, sys, h5py, numpy as np
cat, root, ref, out = sys.argv[1:5]
with h5py.File(cat, "r") as f:
    n = f["/products/id"].shape[0]
    rows = list(range(0, n, n // 40))[:40]
    paths = [f["/products/image_path"][r].decode() for r in rows]
    pix = [f["/images/pixels"][r] for r in rows]
subprocess.run([sys.executable, ref, "resize", "--side", "64", "--fit", "pad", "--filter", "bilinear",
                "--out", out] + [f"{root}/{p}" for p in paths], check=True)
worst = 0
for p, a in zip(paths, pix):
    name = p.rsplit("/", 1)[-1]
    b = np.fromfile(f"{out}/{name}.rgb", dtype=np.uint8).reshape(64, 64, 3)
    worst = max(worst, int(np.abs(a.astype(int) - b.astype(int)).max()))
print(f"max |assort - Pillow| over {len(rows)} products: {worst}")
sys.exit(0 if worst <= 2 else 1)
PY
echo "ok: pixels match Pillow within 2"

# --- night 2 inputs ---------------------------------------------------------------
mkdir -p "$t/n2"; cp -r "$t/demo/images" "$t/n2/images"
"$py" - "$t/demo/catalog.csv" "$t/n2" <<'PY'
import csv, sys
from PIL import Image
src, n2 = sys.argv[1:3]
rows = list(csv.reader(open(src, newline="", encoding="utf-8")))
head, body = rows[0], rows[1:]
img = head.index("image")
removed = set(range(100, 120))
for i in range(200, 250):                     # 50 changed images: re-encoded
    p = f"{n2}/{body[i][img]}"
    Image.open(p).convert("RGB").save(p, quality=55)
new = [[f"new-{r[0]}"] + r[1:] for r in body[300:330]]
out = [r for i, r in enumerate(body) if i not in removed] + new
with open(f"{n2}/catalog.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n"); w.writerow(head); w.writerows(out)
PY
# An extraction would clear the dirty flags: simulate it so night 2's flags are visible.
"$py" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f['/products/dirty'][:]=0; f.close()" "$t/c2.h5"
cp "$t/c2.h5" "$t/night1.h5"
before=$(sha256sum < "$t/c2.h5")

# --- kill -9 and an injected failure in the middle of the update -----------------
# ingest.batch counts pass A batches (64 rows: 16 per rank here) then pass B
# batches, so #17 kills rank 1 at its first pixel write.
set +e
ASSORT_FAULT="kill:ingest.batch#17@1" $MPIEXEC -n 2 "$ASSORT_BIN" ingest "${set_[@]}" --update \
  --csv "$t/n2/catalog.csv" --images "$t/n2" "$t/c2.h5" >/dev/null 2>&1; rc=$?
set -e
[ $rc -ne 0 ] || { echo "FAIL: killed ingest exited 0"; exit 1; }
[ "$(sha256sum < "$t/c2.h5")" = "$before" ] || { echo "FAIL: catalog changed by a killed ingest"; exit 1; }
echo "ok: kill -9 (exit $rc) left the catalog byte-identical"
set +e
ASSORT_FAULT="fail:ingest.batch#3@0" $MPIEXEC -n 2 "$ASSORT_BIN" ingest "${set_[@]}" --update \
  --csv "$t/n2/catalog.csv" --images "$t/n2" "$t/c2.h5" >/dev/null 2>"$t/err"; rc=$?
set -e
[ $rc -eq 1 ] || { echo "FAIL: injected failure exit $rc"; cat "$t/err"; exit 1; }
grep -q "injected fault at ingest.batch" "$t/err"
[ "$(sha256sum < "$t/c2.h5")" = "$before" ] && [ ! -e "$t/c2.h5.work" ] \
  || { echo "FAIL: catalog changed or work copy left by a failed ingest"; exit 1; }
echo "ok: injected failure left the catalog byte-identical and no work copy"

# --- the rerun ------------------------------------------------------------------------
$MPIEXEC -n 2 "$ASSORT_BIN" ingest "${set_[@]}" --update --csv "$t/n2/catalog.csv" --images "$t/n2" \
  "$t/c2.h5" > "$t/out" 2>"$t/err"
cat "$t/out"
# The run this command recorded, from its own log (run ids sort by second, then by a random
# tag: two ingests in one second need not sort in the order they ran).
runid() { sed -n 's/.*\[ingest\] run \([^ ]*\) (config hash.*/\1/p' "$1" | head -1; }
"$py" - "$t/night1.h5" "$t/c2.h5" "$(runid "$t/err")" <<'PY'
import sys, h5py, numpy as np
old, new = (h5py.File(p, "r") for p in sys.argv[1:3])
last = new[f"/runs/{sys.argv[3]}"]
got = {k: int(last.attrs[k]) for k in ("new", "changed", "removed", "unchanged", "rejected")}
want = {"new": 30, "changed": 50, "removed": 20, "unchanged": 1930, "rejected": 0}
assert got == want, (got, want)
assert new.attrs["generation"] == old.attrs["generation"] + 1
n_old = old["/products/id"].shape[0]
ids_old = [s.decode() for s in old["/products/id"][:]]
ids_new = [s.decode() for s in new["/products/id"][:]]
assert ids_new[:n_old] == ids_old, "existing rows moved"
assert ids_new[n_old:] == [f"new-{i}" for i in ids_old[300:330]], "new ids not appended in CSV order"
st, dirty = new["/products/status"][:], new["/products/dirty"][:]
h_old, h_new = old["/products/hash"][:], new["/products/hash"][:]
p_old, p_new = old["/images/pixels"], new["/images/pixels"]
removed, changed = set(range(100, 120)), set(range(200, 250))
for r in range(n_old + 30):
    if r >= n_old:
        assert dirty[r] == 1 and st[r] == 0, r
    elif r in removed:
        assert st[r] == 1 and dirty[r] == 0, r
    elif r in changed:
        assert st[r] == 0 and dirty[r] == 1 and (h_old[r] != h_new[r]).any(), r
    else:
        assert st[r] == 0 and dirty[r] == 0 and (h_old[r] == h_new[r]).all(), r
unch = [r for r in range(n_old) if r not in removed and r not in changed]
a, b = p_old[:], p_new[:n_old]
assert (a[unch] == b[unch]).all(), "unchanged pixels differ"
assert (p_new[n_old:] == a[300:330]).all(), "new rows' pixels differ from the same images' pixels"
print("ok: night 2 counts", got, "; unchanged rows byte-identical; dirty/status right")
PY

# --- night 3: night 1's CSV and images again -> removed products return ----------
$MPIEXEC -n 2 "$ASSORT_BIN" ingest "${set_[@]}" --update --csv "$t/demo/catalog.csv" --images "$t/demo" \
  "$t/c2.h5" > "$t/out3" 2>"$t/err3"
cat "$t/out3"
grep -q "2000 accepted: 0 new, 50 changed, 1950 unchanged, 30 removed, 0 rejected; 50 images written" "$t/out3"
"$py" - "$t/night1.h5" "$t/c2.h5" "$(runid "$t/err3")" <<'PY'
import sys, h5py
old, new = (h5py.File(p, "r") for p in sys.argv[1:3])
st = new["/products/status"][:]
assert (st[:2000] == 0).all() and (st[2000:] == 1).all()
assert (old["/images/pixels"][:] == new["/images/pixels"][:2000]).all(), "pixels not restored"
assert (old["/products/hash"][:] == new["/products/hash"][:2000]).all()
m = new[f"/runs/{sys.argv[3]}/metrics_json"][()]
assert b'"reactivated": 20' in m, m
PY
echo "ok: night 3 reactivated the removed products"

# --- night 4: names and labels change, paths move, a duplicate id -------------------
# Change detection compares name and labels (stored as hashes / indices) and the
# strings are rewritten from the CSV: 5 renamed + 5 relabelled = 10 changed; 3
# products point to a copy of their image (same bytes: unchanged, new path); the
# duplicate id is rejected (the first occurrence wins).
mkdir -p "$t/n4"; cp -r "$t/demo/images" "$t/n4/images"
"$py" - "$t/demo/catalog.csv" "$t/n4" <<'PY'
import csv, shutil, sys
src, n4 = sys.argv[1:3]
rows = list(csv.reader(open(src, newline="", encoding="utf-8")))
head, body = rows[0], rows[1:]
img, name, art = head.index("image"), head.index("name"), head.index("article_type")
for i in range(400, 405): body[i][name] += " v2"
for i in range(500, 505): body[i][art] = "NewType"
for i in range(600, 603):
    new = body[i][img].replace(".jpg", "_moved.jpg")
    shutil.copy(f"{n4}/{body[i][img]}", f"{n4}/{new}")
    body[i][img] = new
body.append(list(body[10]))
with open(f"{n4}/catalog.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n"); w.writerow(head); w.writerows(body)
PY
"$py" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f['/products/dirty'][:]=0; f.close()" "$t/c2.h5"
cp "$t/c2.h5" "$t/night3.h5"
$MPIEXEC -n 2 "$ASSORT_BIN" ingest "${set_[@]}" --update --csv "$t/n4/catalog.csv" --images "$t/n4" \
  "$t/c2.h5" > "$t/out4" 2>/dev/null
cat "$t/out4"
grep -q "2000 accepted: 0 new, 10 changed, 1990 unchanged, 0 removed, 1 rejected; 0 images written" "$t/out4"
"$py" - "$t/night3.h5" "$t/c2.h5" "$t/n4/catalog.csv" <<'PY'
import csv, sys, h5py
old, new = (h5py.File(p, "r") for p in sys.argv[1:3])
body = list(csv.DictReader(open(sys.argv[3], newline="", encoding="utf-8")))[:2000]
ids = [s.decode() for s in new["/products/id"][:2000]]
assert ids == [r["id"] for r in body], "ids moved"
names = [s.decode() for s in new["/products/name"][:2000]]
paths = [s.decode() for s in new["/products/image_path"][:2000]]
assert names == [r["name"] for r in body], "names not rewritten from the CSV"
assert paths == [r["image"] for r in body], "paths not refreshed"
cls = [s.decode() for s in new["/categories/article_type"][:]]
old_cls = [s.decode() for s in old["/categories/article_type"][:]]
assert cls == old_cls + ["NewType"], "class table not appended"
lab = new["/products/labels"][:2000]
assert (lab[500:505, 2] == len(cls) - 1).all(), lab[500:505]
dirty = new["/products/dirty"][:2000]
changed = set(range(400, 405)) | set(range(500, 505))
assert [r for r in range(2000) if dirty[r]] == sorted(changed), "dirty flags"
assert (old["/products/hash"][:] == new["/products/hash"][:]).all()
assert (old["/images/pixels"][:] == new["/images/pixels"][:]).all()
PY
echo "ok: night 4 names/labels changed, paths refreshed, duplicate rejected"
echo "1 passed, 0 failed"
