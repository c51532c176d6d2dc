#!/usr/bin/env bash
# The per-product tables spilled to disk give the same catalog as tables in
# memory. The 2,000-product demo sample (64 px), then an --update night
# (50 re-encoded images, 30 new ids, 20 removed ids, 21 duplicate ids, 41
# missing images: row-level and pass A rejects, merged by line), then night
# 1's CSV again (removed products come back), each run with:
#   A  the default ingest.table_memory_kib (everything in memory), 1 rank;
#   B  ingest.table_memory_kib=16 (~1.5 KiB per table: the tables must spill), 1 rank;
#   C  the same tiny budget, 2 ranks;
#   D  the tiny budget, 2 ranks, catalog.deflate=4 (collective writes), against A's data.
# Every per-product dataset, the pixels and the class tables must be equal
# under h5diff, the run counts equal, the rejects CSVs identical; B, C, D must
# log that their tables spilled and A that nothing did; no temporary table
# file may be left in the catalog's folder.
set -euo pipefail
py="$ASSORT_SRC/.venv/bin/python"
[ -x "$py" ] || { echo "SKIP: $py missing (run tools/setup-deps)"; exit 77; }
[ -f "$ASSORT_SHARED/data/fashion/images.tar" ] || { echo "SKIP: $ASSORT_SHARED/data/fashion absent"; exit 77; }
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
ASSORT_SHARED="$ASSORT_SHARED" "$ASSORT_SRC/tools/make-demo-data" "$t/demo" 2000 >/dev/null
mkdir -p "$t/A" "$t/B" "$t/C" "$t/D"

# --- night 2 and night 3 inputs ---------------------------------------------------
mkdir -p "$t/n2"; cp -r "$t/demo/images" "$t/n2/images"
"$py" - "$t/demo/catalog.csv" "$t/n2" <<'PY'
import csv, sys
from PIL import Image
src, n2 = sys.argv[1:3]
rows = list(csv.reader(open(src, newline="", encoding="utf-8")))
head, body = rows[0], rows[1:]
img = head.index("image")
for i in range(200, 250):                     # 50 changed images: re-encoded
    p = f"{n2}/{body[i][img]}"
    Image.open(p).convert("RGB").save(p, quality=55)
new = [[f"new-{r[0]}"] + r[1:] for r in body[300:330]]
dup = [body[5][:]]                            # a duplicate id (rejected)
gone = body[7][:]; gone[img] = "images/none.jpg"   # an old product whose new row is rejected
out = [r for i, r in enumerate(body) if not 100 <= i < 120 and i != 7] + new + dup + [gone]
out += [r[:] for r in body[10:30]]            # 20 more duplicate ids (row-level rejects)
for k in range(40):                           # 40 missing images spread over both ranks' shards
    miss = body[k][:]; miss[0] = f"miss-{k}"; miss[img] = f"images/none-{k}.jpg"
    out.insert(50 * k + 3, miss)
with open(f"{n2}/catalog.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n"); w.writerow(head); w.writerows(out)
PY

# run NAME NIGHT RANKS [--set ...]: night 1 creates NAME/c.h5, later nights update it.
run() {
  local name=$1 night=$2 ranks=$3; shift 3
  local csv=$t/demo/catalog.csv root=$t/demo upd=()
  [ "$night" = 2 ] && { csv=$t/n2/catalog.csv; root=$t/n2; }
  [ "$night" != 1 ] && upd=(--update)
  $MPIEXEC -n "$ranks" "$ASSORT_BIN" ingest --set ingest.image_size=64 "$@" "${upd[@]}" \
    --set ingest.rejects_csv="$t/$name/rejects$night.csv" \
    --csv "$csv" --images "$root" "$t/$name/c.h5" > "$t/$name/out$night" 2>"$t/$name/err$night" \
    || { echo "FAIL: $name night $night exit $?"; cat "$t/$name/err$night"; exit 1; }
}
tiny=(--set ingest.table_memory_kib=16)
# The run a command recorded, from its own log (ids sort by second, then by a random tag).
runid() { sed -n 's/.*\[ingest\] run \([^ ]*\) (config hash.*/\1/p' "$1" | head -1; }
datasets=(/products/id /products/name /products/labels /products/hash /products/status
          /products/dirty /products/needs_similarity /products/image_path /products/source_line
          /products/attrs/colour /products/attrs/usage /images/pixels /categories/levels
          /categories/master_category /categories/sub_category /categories/article_type)
for night in 1 2 3; do
  run A $night 1
  run B $night 1 "${tiny[@]}"
  run C $night 2 "${tiny[@]}"
  run D $night 2 "${tiny[@]}" --set catalog.deflate=4
  for x in B C D; do
    for d in "${datasets[@]}"; do
      h5diff "$t/A/c.h5" "$t/$x/c.h5" "$d" "$d" >/dev/null \
        || { echo "FAIL: night $night: $d differs between A (in memory) and $x (spilled)"; exit 1; }
    done
    cmp -s "$t/A/rejects$night.csv" "$t/$x/rejects$night.csv" \
      || { echo "FAIL: night $night: rejects CSV of $x differs from A's"; exit 1; }
    "$py" - "$t/A/c.h5" "$t/$x/c.h5" "$(runid "$t/A/err$night")" "$(runid "$t/$x/err$night")" <<'PY' \
      || { echo "FAIL: night $night: /rejects of $x differ from A's"; exit 1; }
import sys, h5py
def last(p, run):
    with h5py.File(p, "r") as f:
        g = f[f"/rejects/{run}"]
        return {k: g[k][:].tolist() for k in ("line", "id", "path", "reason")}, int(g.attrs["count"])
a, b = last(sys.argv[1], sys.argv[3]), last(sys.argv[2], sys.argv[4])
assert a == b, "the /rejects datasets differ"
assert a[0]["line"] == sorted(a[0]["line"]) and len(a[0]["line"]) == a[1], "not by line, or count wrong"
PY
    grep -q "tables over ingest.table_memory_kib = 16: [1-9][0-9]* KiB spilled" "$t/$x/err$night" \
      || { echo "FAIL: night $night: $x did not report spilled tables"; cat "$t/$x/err$night"; exit 1; }
    # the run summary line (counts) is the same
    [ "$(grep -o '[0-9]* accepted: .*written' "$t/A/out$night")" = \
      "$(grep -o '[0-9]* accepted: .*written' "$t/$x/out$night")" ] \
      || { echo "FAIL: night $night: run counts of $x differ from A's"; grep accepted "$t"/?/out$night; exit 1; }
  done
  ! grep -q "spilled" "$t/A/err$night" || { echo "FAIL: night $night: A spilled with the default budget"; exit 1; }
  grep -o '[0-9]* accepted: .*written' "$t/A/out$night"
  echo "ok: night $night: tiny budget (1 and 2 ranks, deflate) == default budget under h5diff"
done
# The update nights did what they should (so the comparison covered them).
grep -q "2009 accepted: 30 new, 50 changed, 1929 unchanged, 20 removed, 62 rejected" "$t/A/out2" \
  || { echo "FAIL: night 2 counts"; cat "$t/A/out2"; exit 1; }
"$py" - "$t/C/c.h5" "$(runid "$t/C/err3")" <<'PY' || { echo "FAIL: night 3 did not reactivate 20 products in C"; exit 1; }
import sys, h5py
f = h5py.File(sys.argv[1], "r")
m = f[f"/runs/{sys.argv[2]}/metrics_json"][()]
assert b'"reactivated": 20' in m, m
PY
# A rank killed (kill -9) while its tables are spilled leaves no temporary file
# either: each is unlinked as soon as it is created.
set +e
ASSORT_FAULT="kill:ingest.batch#10@1" $MPIEXEC -n 2 "$ASSORT_BIN" ingest --set ingest.image_size=64 \
  "${tiny[@]}" --update --csv "$t/n2/catalog.csv" --images "$t/n2" "$t/C/c.h5" >/dev/null 2>&1; rc=$?
set -e
[ $rc -ne 0 ] || { echo "FAIL: killed ingest exited 0"; exit 1; }
left=$(find "$t/A" "$t/B" "$t/C" "$t/D" -name '.assort-ingest-tables.*' | wc -l)
[ "$left" = 0 ] || { echo "FAIL: $left temporary table files left"; exit 1; }
echo "ok: no temporary table file left behind"
