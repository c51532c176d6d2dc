#!/usr/bin/env bash
# report_runs.sh - `assort runs` on a catalog with two train runs that differ
# in one config value (train.lr) and one similarity run: the table lists the
# three runs with their config hashes (read back with h5py); --json parses and
# matches the run records; --compare shows exactly the one config difference
# and metric deltas equal to B - A of the stored metrics JSON; unknown or
# ambiguous ids exit 2 naming the candidates.
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
py="$ASSORT_SRC/.venv/bin/python"
"$py" -c 'import h5py' 2>/dev/null || { echo "report_runs: needs h5py in $ASSORT_SRC/.venv (run tools/setup-deps)"; exit 77; }
cat="$tmp/c.h5"
"$ASSORT_BUILD/tests/test_report_make" "$cat"
s="--set train.levels=[master,type] --set train.epochs=8 --set train.min_class_count=5"
"$ASSORT_BIN" runs "$cat" > "$tmp/none.txt"
grep -q "no runs in this catalog" "$tmp/none.txt" || { echo "FAIL: empty catalog listing"; exit 1; }
"$ASSORT_BIN" train "$cat" $s --set train.lr=0.05 >"$tmp/l1" 2>&1 || { cat "$tmp/l1"; exit 1; }
"$ASSORT_BIN" similarity "$cat" >"$tmp/l2" 2>&1 || { cat "$tmp/l2"; exit 1; }
$MPIEXEC -n 2 "$ASSORT_BIN" train "$cat" $s --set train.lr=0.02 >"$tmp/l3" 2>&1 || { cat "$tmp/l3"; exit 1; }
"$ASSORT_BIN" runs "$cat" > "$tmp/table.txt"
"$ASSORT_BIN" runs "$cat" --json > "$tmp/runs.json"
cat "$tmp/table.txt"
# The two train runs by the ids their own logs name: A = lr 0.05, B = lr 0.02
# (ids start with the start second, then a random tag, so two runs in one
# second may list in either order).
runid() { grep -o 'run [0-9]\{8\}-[0-9]\{6\}-train-[0-9a-f]* (config' "$1" | head -1 | cut -d' ' -f2; }
a=$(runid "$tmp/l1"); b=$(runid "$tmp/l3")
[ -n "$a" ] && [ -n "$b" ] || { echo "FAIL: no run id in the train logs"; exit 1; }
"$ASSORT_BIN" runs "$cat" --compare "$a" "$b" > "$tmp/cmp.txt"
cat "$tmp/cmp.txt" | head -20
rc=0; "$ASSORT_BIN" runs "$cat" --compare train "$b" 2>"$tmp/err" || rc=$?
[ $rc = 2 ] && grep -q "names 2 runs" "$tmp/err" || { echo "FAIL: ambiguous id: exit $rc, $(cat "$tmp/err")"; exit 1; }
rc=0; "$ASSORT_BIN" runs "$cat" --compare nope "$b" 2>"$tmp/err" || rc=$?
[ $rc = 2 ] && grep -q "no run 'nope'; runs: " "$tmp/err" || { echo "FAIL: unknown id: exit $rc"; exit 1; }
rc=0; "$ASSORT_BIN" runs "$cat" --compare "$a" 2>"$tmp/err" || rc=$?
[ $rc = 2 ] || { echo "FAIL: --compare with one id: exit $rc"; exit 1; }

"$py" - "$cat" "$tmp/table.txt" "$tmp/runs.json" "$tmp/cmp.txt" "$a" "$b" <<'PY'
import json, re, sys
import h5py
cat, table, js, cmp_, a, b = sys.argv[1:7]
fails = []
def check(c, m):
    if not c: fails.append(m)
f = h5py.File(cat, "r")
def s(v): return v.decode() if isinstance(v, bytes) else str(v)
runs = sorted(f["runs"].keys())
check(len(runs) == 3, "expected 3 runs, found %d" % len(runs))
lines = open(table).read().splitlines()
check(len(lines) == 4 and lines[0].startswith("id "), "table: header + 3 rows")
for r, line in zip(runs, lines[1:]):
    g = f["runs"][r]
    cols = line.split()
    check(cols[0] == r, "table row id %s" % cols[0])
    check(cols[3] == s(g.attrs["command"]) and cols[4] == s(g.attrs["config_hash"]), "table row %s" % r)
    m = json.loads(s(g["metrics_json"][()]))
    if s(g.attrs["command"]) == "train":
        t1 = m["levels"]["type"]["test"]["top1"]
        check("type test top-1 %.4f" % t1 in line, "key metric of %s (%.4f) not in %r" % (r, t1, line))
arr = json.loads(open(js).read())
check([x["id"] for x in arr] == runs, "json ids")
for x in arr:
    g = f["runs"][x["id"]]
    check(x["config_hash"] == s(g.attrs["config_hash"]), "json hash")
    check(x["metrics"] == json.loads(s(g["metrics_json"][()])), "json metrics of %s" % x["id"])
    check(abs(x["wall_seconds"] - float(g.attrs["wall_seconds"])) < 1e-12, "json wall")
text = open(cmp_).read()
cfg = text.split("config (A -> B):\n")[1].split("\n\n")[0].strip().splitlines()
check(cfg == ["train.lr: 0.05 -> 0.02"], "config diff: %r" % cfg)
ma = json.loads(s(f["runs"][a]["metrics_json"][()])); mb = json.loads(s(f["runs"][b]["metrics_json"][()]))
seen = 0
for lev, part, k in [(l, p, k) for l in ("master", "type") for p in ("val", "test")
                     for k in ("top1", "macro_f1", "log_loss", "ece")]:
        x, y = ma["levels"][lev][part][k], mb["levels"][lev][part][k]
        key = "levels.%s.%s.%s" % (lev, part, k)
        row = [l for l in text.splitlines() if l.split() and l.split()[0] == key]
        if x == y:
            check(not row, "%s equal but listed" % key); continue
        check(len(row) == 1, "%s missing from the comparison" % key)
        if row:
            _, va, vb, d = row[0].split()
            check(abs(float(va) - x) <= 1e-5 * max(1, abs(x)) and abs(float(vb) - y) <= 1e-5 * max(1, abs(y)), "%s values" % key)
            check(abs(float(d) - (y - x)) <= 1e-3 * max(1e-3, abs(y - x)), "%s delta %s vs %g" % (key, d, y - x))
            seen += 1
check(seen >= 4, "too few differing metrics compared (%d)" % seen)
check("run_id" not in text and "config_hash " not in text, "identity keys listed as differences")
check(re.search(r"\(\d+ equal metric values not shown\)", text) is not None, "equal count line")
if fails:
    print("\n".join("FAIL: " + x for x in fails)); sys.exit(1)
print("runs checks: ok (%d metric deltas)" % seen)
PY
echo "report_runs: ok"
