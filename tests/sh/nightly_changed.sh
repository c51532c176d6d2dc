#!/usr/bin/env bash
# nightly_changed.sh - issue 8 without Slurm: `similarity --query changed` queries
# exactly the new and changed products (/products/needs_similarity) of a night.
#   night 1 (300 products): ingest flags all 300, a changed-mode run queries 300
#            and clears them.
#   night 2 (tools/make-night: 12 changed, 7 new, 5 removed): ingest flags exactly
#            the 19 ids night.json names; the plan says 19; the 2-rank run's record
#            says 19 queries, its query_rows are those ids, every flag is cleared;
#            its lists equal a full `--query all` run's rows for the same products
#            (bit for bit); its groups equal union-find in Python over tonight's
#            pairs plus night 1's pairs of the unqueried rows; every active product
#            has a list in the newest run that queried it (what classify reads).
#   old catalog (no flag): ingest --update creates it with every old row set;
#            similarity --query changed then queries every usable product.
set -euo pipefail
: "${ASSORT_BIN:?}" "${ASSORT_SRC:?}"
skip() { echo "SKIP: $*"; exit 77; }
shared=${ASSORT_SHARED:-$ASSORT_SRC/../shared}
[ -f "$shared/data/fashion/images.tar" ] || skip "no $shared/data/fashion (the shared data set)"
export ASSORT_SHARED=$shared
py=$ASSORT_SRC/.venv/bin/python
{ [ -x "$py" ] && "$py" -c 'import h5py' 2>/dev/null; } || skip "no $py with h5py (run tools/setup-deps)"
weights=$ASSORT_SRC/weights/efficientnet_lite0.h5
[ -f "$weights" ] || skip "no $weights (run tools/import-weights)"
"$ASSORT_BIN" similarity --help >/dev/null 2>&1 || skip "assort similarity is not in this build"
mpi=${MPIEXEC:-mpiexec}
fails=0
expect() { local d=$1; shift; if "$@"; then echo "ok: $d"; else echo "FAIL: $d"; fails=$((fails + 1)); fi; }
d=$(mktemp -d "${TMPDIR:-/tmp}/nightly_changed.XXXXXX")
# on any failure (set -e included) the assort logs are shown before the dir goes
trap 'rc=$?; [ "$rc" -eq 0 ] || tail -n 40 "$d/log.txt" 2>/dev/null; rm -rf "$d"; exit "$rc"' EXIT
cd "$d"
cat > cfg.yaml <<YAML
run:
  seed: 7
ingest:
  image_size: 64
extract:
  weights_dir: "$ASSORT_SRC/weights"
  device: cpu
  batch: 16
similarity:
  duplicate_threshold: 0.6
YAML
a() { local c=$1; shift; "$ASSORT_BIN" "$c" -c "$d/cfg.yaml" "$@" 2>>log.txt; }
# pyc CAT EXPR [n2]: prints EXPR evaluated with f = the catalog (read-only) and helpers.
pyc() { "$py" - "$@" <<'PY'
import sys, json, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
def s(x): return x.decode() if isinstance(x, bytes) else str(x)
ids = [s(x) for x in f["/products/id"][:]]
def sims():  # complete similarity runs, oldest first
    return [f["/similarity"][k] for k in sorted(f["/similarity"]) if int(f["/similarity"][k].attrs.get("complete", 0))]
def record(g):
    return json.loads(s(f["/runs"][s(g.attrs["run"])]["metrics_json"][()]))
night = json.load(open("n2/night.json")) if len(sys.argv) > 3 else None
*stmts, last = sys.argv[2].split("; ")  # "stmt; stmt; expr": the last expression prints
for st in stmts:
    exec(st)
print(eval(last))
PY
}

"$ASSORT_SRC/tools/make-demo-data" n1 300 >/dev/null
"$ASSORT_SRC/tools/make-night" n1 n2 --changed 12 --new 7 --removed 5 --seed 9 >/dev/null

# --- night 1 -----------------------------------------------------------------------
a ingest --csv n1/catalog.csv --images n1 cat.h5 >/dev/null
expect "night 1: ingest flags all 300 products" [ "$(pyc cat.h5 'int(f["/products/needs_similarity"][:].sum())')" = 300 ]
a extract cat.h5 >/dev/null
a similarity --query changed cat.h5 >/dev/null
expect "night 1: the run record says 300 queries, mode changed" \
  [ "$(pyc cat.h5 'r = record(sims()[-1]); "%d %s" % (r["queries"], r["query_mode"])')" = "300 changed" ]
expect "night 1: no flag left" [ "$(pyc cat.h5 'int(f["/products/needs_similarity"][:].sum())')" = 0 ]
cp cat.h5 old.h5

# --- night 2: 12 changed, 7 new, 5 removed -----------------------------------------
a ingest --update --csv n2/catalog.csv --images n2 cat.h5 >/dev/null
expect "night 2: ingest flags exactly night.json's 12 changed + 7 new ids" \
  [ "$(pyc cat.h5 'sorted(i for i, v in zip(ids, f["/products/needs_similarity"][:]) if v) == sorted(night["changed"] + night["new"])' n2)" = True ]
"$ASSORT_BIN" nightly -c cfg.yaml --plan "$ASSORT_SRC/jobs/nightly.yaml" cat.h5 > plan.txt 2>>log.txt
expect "night 2: the plan queries 19 (7 new + 12 changed, judged from the catalog alone: 19 flagged)" \
  grep -q "similarity: query 19 products (0 new, 0 changed, 19 still flagged needs_similarity) against all 302 active" plan.txt
expect "night 2: the plan runs similarity with similarity.query=changed" \
  grep -q "assort similarity --set similarity.query=changed" plan.txt
a extract cat.h5 >/dev/null
cp cat.h5 full.h5
$mpi -n 2 "$ASSORT_BIN" similarity -c cfg.yaml --query changed cat.h5 >/dev/null 2>>log.txt
$mpi -n 2 "$ASSORT_BIN" similarity -c cfg.yaml --query all full.h5 >/dev/null 2>>log.txt
expect "night 2: the run record says 19 = 12 changed + 7 new queries" \
  [ "$(pyc cat.h5 'r = record(sims()[-1]); "%d %s %d" % (r["queries"], r["query_mode"], r["needs_similarity_left"])')" = "19 changed 0" ]
expect "night 2: its query_rows are exactly those ids" \
  [ "$(pyc cat.h5 'sorted(ids[r] for r in sims()[-1]["query_rows"][:]) == sorted(night["changed"] + night["new"])' n2)" = True ]
expect "night 2: every flag cleared" [ "$(pyc cat.h5 'int(f["/products/needs_similarity"][:].sum())')" = 0 ]
expect "night 2: 283 unqueried active rows carried from night 1 (300 - 5 removed - 12 changed)" \
  [ "$(pyc cat.h5 'int(sims()[-1].attrs["carried_rows"])')" = 283 ]
cmp_full='g = sims()[-1]; h = h5py.File("full.h5", "r"); fk = [k for k in sorted(h["/similarity"])][-1]; G = h["/similarity"][fk]; pos = {int(r): i for i, r in enumerate(G["query_rows"][:])}; ix = [pos[int(r)] for r in g["query_rows"][:]]; all(np.array_equal(g[k][:], G[k][:][ix]) for k in ("neighbours", "score_fused", "score_image", "score_name", "image_neighbours", "name_neighbours"))'
expect "night 2: the 19 lists equal a full --query all run's, bit for bit" [ "$(pyc cat.h5 "$cmp_full")" = True ]
# groups: union-find in Python over tonight's pairs + night 1's pairs whose two rows
# were not queried tonight (both usable), at the run's threshold
got=$("$py" - cat.h5 <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
runs = [f["/similarity"][k] for k in sorted(f["/similarity"]) if int(f["/similarity"][k].attrs.get("complete", 0))]
g, g1 = runs[-1], runs[-2]
thr = float(g.attrs["duplicate_threshold"])
n = len(f["/products/id"])
q = set(int(r) for r in g["query_rows"][:])
ok = (f["/features/lite0/valid"][:] != 0) & (f["/products/status"][:] == 0)
pairs = []
for a, nb, sc in zip(g["query_rows"][:], g["neighbours"][:], g["score_fused"][:]):
    pairs += [(int(a), int(b)) for b, v in zip(nb, sc) if b >= 0 and v >= thr]
for a, nb, sc in zip(g1["query_rows"][:], g1["neighbours"][:], g1["score_fused"][:]):
    if int(a) in q or not ok[a]:
        continue
    pairs += [(int(a), int(b)) for b, v in zip(nb, sc) if b >= 0 and int(b) not in q and ok[b] and v >= thr]
parent = list(range(n))
def find(x):
    while parent[x] != x:
        x = parent[x]
    return x
for x, y in pairs:
    rx, ry = find(x), find(y)
    parent[max(rx, ry)] = min(rx, ry)
gid = np.array([find(x) for x in range(n)])
# the stored lists hold every pair above thr only when each query's k-th fused score is below it
ambiguous = int((g["score_fused"][:][:, -1] >= thr).sum())
print(np.array_equal(gid, g["group_id"][:]) and ambiguous == 0, int((g["group_size"][:] > 1).sum()))
PY
)
expect "night 2: groups = union-find over tonight's + carried pairs (got '$got': equal, products in groups)" \
  test "${got% *}" = True -a "${got#* }" -gt 0
expect "night 2: every active product has a neighbour list in the newest run that queried it" \
  [ "$(pyc cat.h5 'seen = set(); [seen.update(int(r) for r in g["query_rows"][:]) for g in sims()]; st = f["/products/status"][:]; all(r in seen for r in range(len(ids)) if st[r] == 0)')" = True ]

# --- a catalog from before the flag --------------------------------------------------
"$py" -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r+"); del f["/products/needs_similarity"]' old.h5
a ingest --update --csv n2/catalog.csv --images n2 old.h5 >/dev/null
expect "old catalog: ingest --update creates the flag with every row set (307)" \
  [ "$(pyc old.h5 'int(f["/products/needs_similarity"][:].sum())')" = 307 ]
"$py" -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r+"); del f["/products/needs_similarity"]' old.h5
a extract old.h5 >/dev/null
a similarity --query changed old.h5 >/dev/null
expect "old catalog without the flag: --query changed queries every usable product (302) and creates it cleared" \
  [ "$(pyc old.h5 'r = record(sims()[-1]); "%d %d %d" % (r["queries"], len(f["/products/needs_similarity"]), int(f["/products/needs_similarity"][:].sum()))')" = "302 307 0" ]
# a flag column shorter than the catalog (rows appended by an ingest from before the flag)
cp cat.h5 short.h5
"$py" -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r+"); d = f["/products/needs_similarity"]; d.resize((300,)); d[...] = 0' short.h5
a similarity --query changed short.h5 >/dev/null
expect "short flag column: the 7 rows past its end are queried, the column grows to 307, cleared" \
  [ "$(pyc short.h5 'r = record(sims()[-1]); "%s %d %d" % (sorted(ids[q] for q in sims()[-1]["query_rows"][:]) == sorted(night["new"]), len(f["/products/needs_similarity"]), int(f["/products/needs_similarity"][:].sum()))' n2)" = "True 307 0" ]
rc=0; "$ASSORT_BIN" similarity --query sometimes cat.h5 2> e.txt || rc=$?
expect "unknown --query: exit 2 naming the choices (got $rc)" bash -c "[ $rc -eq 2 ] && grep -q 'use all, dirty or changed' e.txt"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
