#!/usr/bin/env bash
# nightly_slurm.sh - the real slurm/nightly.sh with jobs/nightly.yaml on a real
# single-node Slurm: three nights on a 2,000-product sample with 2 ranks.
#   night 1: builds the catalog; every stage COMPLETED (sacct -c); all products
#            extracted, heads, similarity, predictions and a /nightly record.
#   night 2: tools/make-night with 50 changed and 30 new products: the plan says so,
#            extract re-extracts exactly 80 (its run record), classify covers all
#            2,030 products, train warm-starts, similarity queries exactly the 80
#            new/changed products (its run record; --query changed), the diff is recorded.
#   night 2 again: idempotent: ingest finds nothing, train and similarity are
#            skipped, extract does 0, predictions equal night 2's, the diff is empty.
# shellcheck source=tests/sh/nightly_common.sh
. "$(dirname "$0")/nightly_common.sh"
export SLURM_LOCAL_CPUS=2
slurm_up
d=$SLURM_TEST_DIR
cd "$d"
"$ASSORT_SRC/tools/make-demo-data" "$d/night1" 2000 >/dev/null
"$ASSORT_SRC/tools/make-night" "$d/night1" "$d/night2" --changed 50 --new 30 --removed 0 --seed 3
write_config "$d/cfg.yaml"
export CAT=$d/cat.h5 ASSORT_CATALOG=$d/cat.h5 ASSORT_CONFIG=$d/cfg.yaml NIGHTLY_OUT_DIR=$d
export NIGHTLY_LOCK=$d/nightly.lock NIGHTLY_LOG=$d/nightly.log

night() {  # night N DIR: runs the chain for DIR's CSV, waits; prints its stdout to ids.N
  local n=$1 dir=$2 rc=0 t0
  t0=$(date +%s)
  "$ASSORT_SRC/slurm/nightly.sh" --wait --csv "$dir/catalog.csv" --images "$dir" \
    "$ASSORT_SRC/jobs/nightly.yaml" > "ids.$n" 2> "plan.$n" || rc=$?
  echo "--- night $n (rc $rc, $(( $(date +%s) - t0 )) s)"; cat "plan.$n" "ids.$n"
  if [ "$rc" -ne 0 ]; then for f in assort-*.out; do echo "--- $f"; tail -n 20 "$f"; done; fi
  return "$rc"
}
# every submitted job of night N ended COMPLETED in sacct -c
# shellcheck disable=SC2317  # called through expect
all_completed() {
  local id st
  while read -r _ id; do
    [ "$id" = skipped ] && continue
    st=$(sacct -c -n -j "$id" -o state 2>/dev/null | tr -d ' ' | tail -n 1)
    [ "$st" = COMPLETED ] || { echo "  job $id: $st"; return 1; }
  done < "ids.$1"
}

# --- night 1 ------------------------------------------------------------------
rc=0; night 1 "$d/night1" || rc=$?
expect "night 1: chain exit 0" [ "$rc" -eq 0 ]
expect "night 1: 7 stages submitted in order" \
  [ "$(cut -d' ' -f1 ids.1 | tr '\n' ' ')" = "ingest extract train similarity classify diff report " ]
expect "night 1: every job COMPLETED (sacct -c)" all_completed 1
expect "night 1: plan said the catalog is created" grep -q "create the catalog: 2000 products" plan.1
expect "night 1: the log file got the plan and the ids" grep -q "ingest: create the catalog" nightly.log
read -r n1 dirty1 valid1 preds1 nights1 <<<"$(h5 'len(f["/products/id"])' 'int(f["/products/dirty"][:].sum())' \
  'int(f["/features/lite0/valid"][:].sum())' 'len(complete("/predictions"))' 'len(complete("/nightly"))' | tr '\n' ' ')"
expect "night 1: 2000 products, 0 dirty, 2000 valid features (got $n1 $dirty1 $valid1)" \
  [ "$n1 $dirty1 $valid1" = "2000 0 2000" ]
expect "night 1: one predictions run, one nightly record (got $preds1 $nights1)" [ "$preds1 $nights1" = "1 1" ]
expect "night 1: extract's run record: 2000 extracted" \
  [ "$(h5 'runs("extract")[-1][1]["extracted"]')" = 2000 ]
expect "night 1: similarity's run record: all 2000 queried (every row new)" \
  [ "$(h5 'runs("similarity")[-1][1]["queries"]')" = 2000 ]

# --- night 2: 50 changed, 30 new ------------------------------------------------
rc=0; night 2 "$d/night2" || rc=$?
expect "night 2: chain exit 0" [ "$rc" -eq 0 ]
expect "night 2: every job COMPLETED (sacct -c)" all_completed 2
expect "night 2: plan counts 30 new, 50 changed, 0 removed" grep -q "ingest: 30 new, 50 changed (50 image, 0 reactivated), 0 removed" plan.2
expect "night 2: plan says extract 80" grep -q "extract: 80 dirty" plan.2
expect "night 2: plan says train warm-starts" grep -q "train: warm start from /heads/" plan.2
read -r ing ext nact ncls <<<"$(h5 \
  'r=runs("ingest")[-1][1]; "%d/%d/%d" % (r["new"], r["changed"], r["removed"])' \
  'runs("extract")[-1][1]["extracted"]' \
  'int((f["/products/status"][:] == 0).sum())' \
  'p=complete("/predictions")[-1]; lv=[k for k in f["/predictions"][p] if "pred" in f["/predictions"][p][k]][0]; int((f["/predictions"][p][lv]["pred"][:] >= 0).sum())' | tr '\n' ' ')"
expect "night 2: ingest record new/changed/removed = 30/50/0 (got $ing)" [ "$ing" = 30/50/0 ]
expect "night 2: extract record: exactly 80 re-extracted (got $ext)" [ "$ext" = 80 ]
expect "night 2: all $nact active products classified (got $ncls)" [ "$nact" = 2030 ] && [ "$ncls" = "$nact" ]
read -r simq2 flags2 <<<"$(h5 \
  'r=runs("similarity")[-1][1]; "%d/%s/%d" % (r["queries"], r["query_mode"], r["needs_similarity_left"])' \
  'int(f["/products/needs_similarity"][:].sum())' | tr '\n' ' ')"
expect "night 2: similarity's run record: exactly 80 = 50 changed + 30 new queried, mode changed (got $simq2)" \
  [ "$simq2" = 80/changed/0 ]
expect "night 2: no needs_similarity flag left (got $flags2)" [ "$flags2" = 0 ]
expect "night 2: the plan said similarity queries 80" grep -q "similarity: query 80 products (30 new, 50 changed, 0 still flagged" plan.2
expect "night 2: train warm-started (log)" grep -q "warm start from" "assort-nightly-train-$(awk '$1 == "train" {print $2}' ids.2).out"
expect "night 2: second nightly record compares with night 1" \
  [ "$(h5 'n=complete("/nightly")[-1]; s(f["/nightly"][n].attrs["previous_predictions_run"]) == complete("/predictions")[-2]')" = True ]
h5 'n=complete("/nightly")[-1]; json.dumps({k: (float(v) if "float" in str(type(v)) else int(v) if "int" in str(type(v)) else s(v)) for k, v in f["/nightly"][n].attrs.items()})'

# --- night 2 again: nothing changes ----------------------------------------------
cp "$CAT" before3.h5
ext_runs2=$(CAT=before3.h5 h5 'len(runs("extract"))')  # extract with nothing to do records no run
rc=0; night 3 "$d/night2" || rc=$?
expect "night 2 again: chain exit 0" [ "$rc" -eq 0 ]
expect "night 2 again: every job COMPLETED (sacct -c)" all_completed 3
expect "night 2 again: train and similarity skipped" \
  [ "$(grep skipped ids.3 | cut -d' ' -f1 | tr '\n' ' ')" = "train similarity " ]
read -r ing3 ext3 dirty3 same3 diff3 <<<"$(h5 \
  'r=runs("ingest")[-1][1]; "%d/%d/%d" % (r["new"], r["changed"], r["removed"])' \
  "runs('extract')[-1][1]['extracted'] if len(runs('extract')) > $ext_runs2 else 0" 'int(f["/products/dirty"][:].sum())' \
  'a, b = complete("/predictions")[-2:]; all(np.array_equal(f["/predictions"][a][k][...], f["/predictions"][b][k][...]) for k in f["/predictions"][a] for k in ([k] if isinstance(f["/predictions"][a][k], h5py.Dataset) else []) ) and all(np.array_equal(f["/predictions"][a][k][d][...], f["/predictions"][b][k][d][...]) for k in f["/predictions"][a] if isinstance(f["/predictions"][a][k], h5py.Group) for d in ("pred", "confidence", "flags"))' \
  'n=f["/nightly"][complete("/nightly")[-1]]; sum(int(n[k].attrs["changed"]) + int(n[k].attrs["new_flags"]) for k in n if isinstance(n[k], h5py.Group)) + int(n.attrs["new_groups"])' | tr '\n' ' ')"
expect "night 2 again: ingest finds 0/0/0 (got $ing3)" [ "$ing3" = 0/0/0 ]
expect "night 2 again: extract does 0 (got $ext3), no dirty rows (got $dirty3)" [ "$ext3 $dirty3" = "0 0" ]
expect "night 2 again: predictions equal night 2's (pred, confidence, flags, groups)" [ "$same3" = True ]
expect "night 2 again: the diff is empty (got $diff3)" [ "$diff3" = 0 ]
finish
