#!/usr/bin/env bash
# classify_cmd.sh - `assort classify` end to end on a synthetic catalog
# (test_classify_cmd make): train heads, similarity, classify with 1 and 2
# ranks. Checks: predictions match an independent reference (test_classify_cmd
# check), 1- and 2-rank tables and exports are identical, CSV/JSONL parse with
# python3 and agree with the HDF5 predictions, a name with a comma, a quote and
# <script> survives, the name model is reused when current, metrics present.
set -euo pipefail
helper="$ASSORT_BUILD/tests/test_classify_cmd"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/one" "$tmp/two"
"$helper" make "$tmp/one/cat.h5"
run() { local log=$1; shift; "$@" >"$log" 2>&1 || { cat "$log"; echo "FAILED: $*"; exit 1; }; }
run "$tmp/train.log" $MPIEXEC -n 1 "$ASSORT_BIN" train "$tmp/one/cat.h5" --set train.epochs=15 --set train.lr=0.01
run "$tmp/sim.log" $MPIEXEC -n 1 "$ASSORT_BIN" similarity "$tmp/one/cat.h5"
cp "$tmp/one/cat.h5" "$tmp/two/cat.h5"
run "$tmp/c1.log" $MPIEXEC -n 1 "$ASSORT_BIN" classify "$tmp/one/cat.h5"
run "$tmp/c2.log" $MPIEXEC -n 2 "$ASSORT_BIN" classify "$tmp/two/cat.h5"
grep -q "trained the name model" "$tmp/c1.log" || { echo "no name model trained"; exit 1; }
h1=$("$helper" check "$tmp/one/cat.h5" | tee /dev/stderr | awk '/hash/{print $4}')
h2=$("$helper" check "$tmp/two/cat.h5" | tee /dev/stderr | awk '/hash/{print $4}')
[ -n "$h1" ] && [ "$h1" = "$h2" ] || { echo "1-rank ($h1) and 2-rank ($h2) predictions differ"; exit 1; }
cmp "$tmp/one/predictions.csv" "$tmp/two/predictions.csv" || { echo "CSV differs 1 vs 2 ranks"; exit 1; }
cmp "$tmp/one/predictions.jsonl" "$tmp/two/predictions.jsonl" || { echo "JSONL differs 1 vs 2 ranks"; exit 1; }
run1=$(grep -E "^[0-9]{8}-[0-9]{6}-classify-[0-9a-f]+$" "$tmp/c1.log")
cmp "$tmp/one/predictions.csv" "$tmp/one/predictions-$run1.csv"
"$helper" dump "$tmp/one/cat.h5" > "$tmp/dump.tsv"
python3 - "$tmp/one" "$tmp/dump.tsv" <<'PY'
import csv, json, sys
d, dump = sys.argv[1], sys.argv[2]
ref = {}
for line in open(dump, encoding="utf-8"):
    i, lvl, lab, pred, conf, flags = line.rstrip("\n").split("\t")
    ref[(i, lvl)] = (lab, pred, float(conf), int(flags))
ids = {k[0] for k in ref}
names = {"needs_review": 1, "suspected_mislabel": 2, "duplicate": 4, "not_classified": 8}
rows = list(csv.DictReader(open(f"{d}/predictions.csv", encoding="utf-8", newline="")))
assert len(rows) == len(ids), (len(rows), len(ids))
js = [json.loads(l) for l in open(f"{d}/predictions.jsonl", encoding="utf-8")]
assert len(js) == len(ids), (len(js), len(ids))
special = 'Shirt, "quoted" <script>alert(1)</script> Tee'
for r, j in zip(rows, js):
    assert r["id"] == j["id"] and r["id"] in ids
    for lvl in ("master_category", "article_type"):
        lab, pred, conf, flags = ref[(r["id"], lvl)]
        assert r[f"{lvl}_label"] == lab and r[f"{lvl}_pred"] == pred, (r, lab, pred)
        assert abs(float(r[f"{lvl}_confidence"]) - conf) <= 1e-6, (r, conf)
        fl = sum(names[f] for f in r[f"{lvl}_flags"].split("|") if f)
        assert fl == flags, (r, flags)
        e = j["levels"][lvl]
        assert (e["label"] or "") == lab and (e["pred"] or "") == pred
        assert sum(names[f] for f in e["flags"]) == flags
        if pred:
            assert abs(e["confidence"] - conf) <= 1e-6 and e["top3"][0]["class"] == pred
    if r["id"] == "P0005":
        assert r["name"] == special and j["name"] == special, (r["name"], j["name"])
    assert len(j["neighbours"]) <= 3
    for n in j["neighbours"]:
        assert n["fused_score"] is not None and n["id"] in ids | {"P0022"}
print("exports: ok,", len(rows), "products")
PY
# metrics in the run record, name model reused on a second run
"$ASSORT_BIN" info "$tmp/one/cat.h5" > "$tmp/info" 2>&1 || true
# weights: search with configured weights off the grid and temperature-scaled name and
# vote sources (the checker applies the stored temperatures, recomputes the validation
# top-1 of every grid point and the tie rule), then fixed weights
run "$tmp/c3.log" $MPIEXEC -n 1 "$ASSORT_BIN" classify "$tmp/one/cat.h5" \
  --set classify.w_head=0.55 --set classify.w_knn=0.25 --set classify.w_name=0.2 \
  --set classify.source_calibration=on
grep -q "reusing name model" "$tmp/c3.log" || { echo "name model not reused"; exit 1; }
grep -q "source temperatures on validation" "$tmp/c3.log" || { echo "no source calibration"; exit 1; }
grep -q "weights chosen on validation" "$tmp/c3.log" || { echo "no weight search logged"; exit 1; }
"$helper" check "$tmp/one/cat.h5"
run "$tmp/c4.log" $MPIEXEC -n 1 "$ASSORT_BIN" classify "$tmp/one/cat.h5" --set classify.weights=fixed \
  --set classify.w_head=0.2 --set classify.w_knn=0.2 --set classify.w_name=0.6
! grep -q "weights chosen on validation" "$tmp/c4.log" || { echo "fixed weights searched"; exit 1; }
"$helper" check "$tmp/one/cat.h5"
rc=0; "$ASSORT_BIN" classify "$tmp/one/cat.h5" --set classify.weight_step=0.3 >"$tmp/c5.log" 2>&1 || rc=$?
[ $rc -eq 2 ] && grep -q "weight_step = 0.3: 1/step must be a whole number" "$tmp/c5.log" \
  || { cat "$tmp/c5.log"; echo "bad weight_step: expected exit 2 (got $rc)"; exit 1; }
# validation and test metrics in the run record, per level and per source
# c3's and c4's runs by the ids their own logs name (ids sort by second, then by a random
# tag: two runs in one second may list in either order)
"$ASSORT_BIN" runs --json "$tmp/one/cat.h5" > "$tmp/runs.json"
id3=$(grep -o 'run [0-9]\{8\}-[0-9]\{6\}-classify-[0-9a-f]* (config' "$tmp/c3.log" | cut -d' ' -f2)
id4=$(grep -o 'run [0-9]\{8\}-[0-9]\{6\}-classify-[0-9a-f]* (config' "$tmp/c4.log" | cut -d' ' -f2)
[ -n "$id3" ] && [ -n "$id4" ] || { echo "no run id in the classify logs"; exit 1; }
python3 - "$tmp/runs.json" "$id3" "$id4" <<'PY'
import json, sys
runs = [r for r in json.load(open(sys.argv[1])) if r["command"] == "classify"]
assert len(runs) == 3, len(runs)  # c1, c3, c4 (c5 failed before its run)
by_id = {r["id"]: r for r in runs}
modes = []
for r in (by_id[sys.argv[2]], by_id[sys.argv[3]]):
    m = r["metrics"]
    modes.append(m["weights"]["mode"])
    for lvl in ("master_category", "article_type"):
        L = m["levels"][lvl]
        for part in ("val", "test"):
            P = L[part]
            for src in ("image", "name", "knn", "fused", "fused_uncalibrated"):
                assert 0 <= P[src]["top1"] <= 1 and 0 <= P[src]["macro_f1"] <= 1, (lvl, part, src, P[src])
            assert P["needs_review"] + P["rest"] == P["fused"]["n"], (lvl, part, P)
        assert L["val"]["fused"]["n"] == L["calibration"]["val_n"], L
        w = L["weights"]
        assert abs(w["head"] + w["knn"] + w["name"] - 1) < 1e-9 or w["mode"] == "fixed", w
        assert w["sources_calibrated"] == (m["weights"]["mode"] == "search"), w  # c3: on
        if w["mode"] == "search":
            assert abs(w["val_top1"] - L["val"]["fused"]["top1"]) < 1e-9, (w, L["val"]["fused"])
        else:
            assert (w["head"], w["knn"], w["name"]) == (0.2, 0.2, 0.6), w
assert modes == ["search", "fixed"], modes
print("run metrics: ok")
PY
grep -q "article_type val (n=" "$tmp/c1.log" && grep -q "article_type test (n=" "$tmp/c1.log"
echo "classify_cmd: ok (1 and 2 ranks identical: $h1)"
