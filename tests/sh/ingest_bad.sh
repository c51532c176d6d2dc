#!/usr/bin/env bash
# Bad-input corpus through `assort ingest` (2 ranks): a CSV with one row of each
# reject kind beside 24 good rows. Each recorded reason is asserted exactly in
# /rejects/<run-id> (h5py), in rejects.csv and on stderr; the run succeeds.
# Then: reject-ratio limit -> exit 3, the previous catalog byte-identical and
# rejects.csv still written; CLI errors (missing CSV / images root / column,
# existing catalog without --update).
set -euo pipefail
py="$ASSORT_SRC/.venv/bin/python"
[ -x "$py" ] || { echo "SKIP: $py missing (run tools/setup-deps)"; exit 77; }
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
bad="$ASSORT_SRC/tests/data/bad"
root="$t/root"; mkdir -p "$root/img" "$root/bad"
cp "$bad"/*.jpg "$bad"/*.png "$bad"/*.gif "$root/bad/"
echo "secret" > "$t/outside.jpg"
ln -s "$t/outside.jpg" "$root/img/link_out.jpg"
"$py" - "$root/img" <<'PY'
import sys
from PIL import Image
for i in range(24):
    im = Image.new("RGB", (60 + i, 80), (10 * i % 256, 100, 200 - 5 * i))
    im.save(f"{sys.argv[1]}/good{i}.jpg" if i % 2 else f"{sys.argv[1]}/good{i}.png")
PY
long=$(printf 'N%.0s' $(seq 300))
{
  echo "id,name,master_category,sub_category,article_type,colour,usage,image"
  for i in $(seq 0 23); do ext=$([ $((i % 2)) = 1 ] && echo jpg || echo png)
    echo "g$i,Good $i,Apparel,Topwear,Tshirts,Blue,Casual,img/good$i.$ext"; done
  echo "b1,Missing,Apparel,Topwear,Tshirts,Blue,Casual,img/nope.jpg"
  echo "b2,Empty,Apparel,Topwear,Tshirts,Blue,Casual,bad/empty.jpg"
  echo "b3,Truncated,Apparel,Topwear,Tshirts,Blue,Casual,bad/truncated.jpg"
  echo "b4,Crc,Apparel,Topwear,Tshirts,Blue,Casual,bad/crc.png"
  echo "b5,Text,Apparel,Topwear,Tshirts,Blue,Casual,bad/text.jpg"
  echo "b6,Gif,Apparel,Topwear,Tshirts,Blue,Casual,bad/image.gif"
  echo "b7,Huge,Apparel,Topwear,Tshirts,Blue,Casual,bad/huge.png"
  echo "b8,HugeJ,Apparel,Topwear,Tshirts,Blue,Casual,bad/huge.jpg"
  echo "b9,Dotdot,Apparel,Topwear,Tshirts,Blue,Casual,../outside.jpg"
  echo "b10,Abs,Apparel,Topwear,Tshirts,Blue,Casual,/etc/passwd"
  echo "b11,Link,Apparel,Topwear,Tshirts,Blue,Casual,img/link_out.jpg"
  echo "b12,Cols,Apparel,Topwear,Tshirts,Blue,img/good1.jpg"
  echo "g1,Duplicate,Apparel,Topwear,Tshirts,Blue,Casual,img/good1.jpg"
  echo ",No id,Apparel,Topwear,Tshirts,Blue,Casual,img/good1.jpg"
  printf 'b15,Caf\xe9,Apparel,Topwear,Tshirts,Blue,Casual,img/good1.jpg\n'
  echo "b16,$long,Apparel,Topwear,Tshirts,Blue,Casual,img/good1.jpg"
  echo "b17,TruncPng,Apparel,Topwear,Tshirts,Blue,Casual,bad/truncated.png"
  echo "b18,Corrupt,Apparel,Topwear,Tshirts,Blue,Casual,bad/corrupt.jpg"
  echo "g24,Unlabelled,,,,,,img/good3.jpg"
} > "$t/c.csv"
cat=$t/c.h5
set +e
$MPIEXEC -n 2 "$ASSORT_BIN" ingest --csv "$t/c.csv" --images "$root" --set ingest.image_size=32 "$cat" \
  >"$t/out" 2>"$t/err"
rc=$?
set -e
cat "$t/out"; cat "$t/err"
[ $rc -eq 0 ] || { echo "FAIL: ingest exit $rc"; exit 1; }
grep -q "25 accepted: 25 new" "$t/out"
grep -q "18 rejected" "$t/out"
# One warning line per reject on stderr, naming file:line, id and image.
[ "$(grep -c 'skipped product' "$t/err")" = 18 ] || { echo "FAIL: expected 18 warning lines"; exit 1; }
grep -q "c.csv:27: skipped product 'b2' (image 'bad/empty.jpg'): empty file" "$t/err"
"$py" - "$cat" "$cat.rejects.csv" <<'PY'
import csv, sys, h5py
want = {
    26: ("b1", "img/nope.jpg", "missing file"),
    27: ("b2", "bad/empty.jpg", "empty file"),
    28: ("b3", "bad/truncated.jpg", "truncated JPEG"),
    29: ("b4", "bad/crc.png", "corrupt PNG (CRC error)"),
    30: ("b5", "bad/text.jpg", "not an image"),
    31: ("b6", "bad/image.gif", "unsupported format (GIF)"),
    32: ("b7", "bad/huge.png", "image too large (50000 x 50000 > 50000000 pixels)"),
    33: ("b8", "bad/huge.jpg", "image too large (50000 x 50000 > 50000000 pixels)"),
    34: ("b9", "../outside.jpg", "path escapes the images root"),
    35: ("b10", "/etc/passwd", "absolute image path"),
    36: ("b11", "img/link_out.jpg", "path escapes the images root"),
    37: ("b12", "", "wrong number of columns (7, the header has 8)"),
    38: ("g1", "img/good1.jpg", "duplicate id (first on line 3)"),
    39: ("", "img/good1.jpg", "empty id"),
    40: ("b15", "img/good1.jpg", "invalid UTF-8 in name"),
    41: ("b16", "img/good1.jpg", "name too long (300 bytes > 255)"),
    42: ("b17", "bad/truncated.png", "truncated PNG"),
    43: ("b18", "bad/corrupt.jpg", "corrupt JPEG (Unsupported JPEG data precision 13)"),
}
fails = 0
def check(src, got):
    global fails
    if got != want:
        fails += 1
        for k in sorted(set(got) | set(want)):
            if got.get(k) != want.get(k):
                print(f"FAIL {src} line {k}: got {got.get(k)} want {want.get(k)}")
with h5py.File(sys.argv[1], "r") as f:
    runs = list(f["/rejects"])
    assert len(runs) == 1 and f[f"/rejects/{runs[0]}"].attrs["complete"] == 1
    g = f[f"/rejects/{runs[0]}"]
    got = {int(l): (i.decode(), p.decode(), r.decode())
           for l, i, p, r in zip(g["line"][:], g["id"][:], g["path"][:], g["reason"][:])}
    check("/rejects", got)
    ids = [s.decode() for s in f["/products/id"][:]]
    assert ids == [f"g{i}" for i in range(25)], ids
    run = f[f"/runs/{runs[0]}"]
    assert (run.attrs["new"], run.attrs["rejected"], run.attrs["removed"]) == (25, 18, 0)
    lab = f["/products/labels"][:]
    assert list(lab[24]) == [-1, -1, -1] and list(lab[0]) == [0, 0, 0], lab
    assert [s.decode() for s in f["/categories/levels"][:]] == ["master_category", "sub_category", "article_type"]
    assert f["/images/pixels"].shape == (25, 32, 32, 3)
    assert f["/images"].attrs["image_size"] == 32 and list(f["/images"].attrs["background"]) == [255, 255, 255]
with open(sys.argv[2], newline="", encoding="utf-8") as fh:
    rows = list(csv.reader(fh))
assert rows[0] == ["line", "id", "path", "reason"], rows[0]
check("rejects.csv", {int(r[0]): (r[1], r[2], r[3]) for r in rows[1:]})
sys.exit(1 if fails else 0)
PY
echo "ok: every reject kind recorded with its exact reason"

# Reject-ratio limit on an update: exit 3, the catalog untouched, rejects.csv written.
before=$(sha256sum < "$cat")
rm -f "$cat.rejects.csv"
set +e
"$ASSORT_BIN" ingest --update --csv "$t/c.csv" --images "$root" --set ingest.image_size=32 \
  --set ingest.max_reject_ratio=0.2 "$cat" 2>"$t/err2"; rc=$?
set -e
[ $rc -eq 3 ] || { echo "FAIL: expected exit 3 over the reject ratio, got $rc"; cat "$t/err2"; exit 1; }
grep -q "18 of 43 rows rejected" "$t/err2"
[ "$(sha256sum < "$cat")" = "$before" ] || { echo "FAIL: catalog changed by a failed run"; exit 1; }
[ ! -e "$cat.work" ] || { echo "FAIL: work copy left behind"; exit 1; }
[ "$(wc -l < "$cat.rejects.csv")" = 19 ] || { echo "FAIL: rejects.csv not written on failure"; exit 1; }
# Fresh run over the ratio: no catalog at all.
set +e; "$ASSORT_BIN" ingest --csv "$t/c.csv" --images "$root" --set ingest.max_reject_ratio=0.1 "$t/n.h5" 2>/dev/null; rc=$?; set -e
[ $rc -eq 3 ] && [ ! -e "$t/n.h5" ] || { echo "FAIL: fresh ratio run rc=$rc"; exit 1; }
echo "ok: reject-ratio limit"

# CLI errors.
expect() { # expect CODE PATTERN -- command...
  local code=$1 pat=$2; shift 3
  set +e; msg=$("$@" 2>&1); rc=$?; set -e
  [ $rc -eq "$code" ] || { echo "FAIL: expected exit $code, got $rc: $msg"; exit 1; }
  grep -q -- "$pat" <<<"$msg" || { echo "FAIL: message lacks '$pat': $msg"; exit 1; }
}
expect 2 "pass --update" -- "$ASSORT_BIN" ingest --csv "$t/c.csv" --images "$root" "$cat"
expect 2 "no such catalog to update" -- "$ASSORT_BIN" ingest --update --csv "$t/c.csv" --images "$root" "$t/none.h5"
expect 2 "nope.csv: CSV file not found" -- "$ASSORT_BIN" ingest --csv "$t/nope.csv" --images "$root" "$t/x.h5"
expect 2 "images root" -- "$ASSORT_BIN" ingest --csv "$t/c.csv" --images "$t/nodir" "$t/x.h5"
expect 3 "column 'colour' (ingest.keep_columns) is not in the header; the header has: id, name" -- \
  "$ASSORT_BIN" ingest --csv "$bad/wrong_columns.csv" --images "$root" --set ingest.levels=[] "$t/x.h5"
[ ! -e "$t/x.h5" ]
echo "ok: CLI errors"
echo "1 passed, 0 failed"
