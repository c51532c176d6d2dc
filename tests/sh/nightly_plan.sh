#!/usr/bin/env bash
# nightly_plan.sh - `assort nightly --plan` without Slurm: counts against the
# ids tools/make-night chose (independent of the catalog code), nothing written,
# the --emit tsv decisions, pipeline-file errors; slurm/nightly.sh --plan.
set -euo pipefail
: "${ASSORT_BIN:?}" "${ASSORT_SRC:?}"
shared=${ASSORT_SHARED:-$ASSORT_SRC/../shared}
[ -f "$shared/data/fashion/images.tar" ] || { echo "SKIP: no $shared/data/fashion"; exit 77; }
export ASSORT_SHARED=$shared
"$ASSORT_BIN" ingest --help >/dev/null 2>&1 || { echo "SKIP: assort ingest is not in this build"; exit 77; }
fails=0
expect() { local d=$1; shift; if "$@"; then echo "ok: $d"; else echo "FAIL: $d"; fails=$((fails + 1)); fi; }
d=$(mktemp -d "${TMPDIR:-/tmp}/nightly_plan.XXXXXX")
trap 'rm -rf "$d"' EXIT
cd "$d"
yaml=$ASSORT_SRC/jobs/nightly.yaml
"$ASSORT_SRC/tools/make-demo-data" n1 300 >/dev/null
"$ASSORT_SRC/tools/make-night" n1 n2 --changed 12 --new 7 --removed 5 --seed 9 >/dev/null
"$ASSORT_SRC/tools/make-night" n1 n2b --changed 12 --new 7 --removed 5 --seed 9 >/dev/null
expect "make-night is deterministic" diff -r n2 n2b
expect "make-night: 302 products" [ "$(($(wc -l < n2/catalog.csv) - 1))" = 302 ]

# before the catalog exists
"$ASSORT_BIN" nightly --plan "$yaml" --csv n1/catalog.csv --images n1 --set ingest.image_size=32 cat.h5 > p0.txt
cat p0.txt
expect "no catalog: plan creates it with 300 products" grep -q "ingest: create the catalog: 300 products" p0.txt
expect "no catalog: nothing written" [ ! -e cat.h5 ]
"$ASSORT_BIN" ingest --set ingest.image_size=32 --csv n1/catalog.csv --images n1 cat.h5 >/dev/null 2>&1
sum0=$(sha256sum cat.h5)
"$ASSORT_BIN" nightly --plan "$yaml" --csv n2/catalog.csv --images n2 --set ingest.image_size=32 cat.h5 > p1.txt
cat p1.txt
expect "plan: 7 new, 12 changed, 5 removed" grep -q "ingest: 7 new, 12 changed (12 image, 0 reactivated), 5 removed, 283 unchanged" p1.txt
expect "plan: extract 302 = 7 new + 12 changed + (300 - 5 removed - 12 changed) never extracted" \
  grep -q "extract: 302 dirty (7 new, 12 changed, 283 still dirty from before)" p1.txt
expect "plan: train from scratch" grep -q "train: no heads stored yet" p1.txt
expect "plan wrote nothing" [ "$(sha256sum cat.h5)" = "$sum0" ]
expect "plan wrote no work copy" [ ! -e cat.h5.work ]
"$ASSORT_BIN" nightly --plan "$yaml" --emit tsv --csv n2/catalog.csv --images n2 cat.h5 > t1.tsv
expect "emit: 7 stage lines" [ "$(wc -l < t1.tsv)" = 7 ]
expect "emit: ingest gets --update --csv --images" \
  [ "$(head -n 1 t1.tsv | tr '\037' ' ')" = "ingest ingest run 2 1 0 02:00:00  --update --csv n2/catalog.csv --images n2" ]
expect "emit: train's set override" grep -q "^train"$'\x1f'"train"$'\x1f'"run"$'\x1f'"2"$'\x1f'"1"$'\x1f'"0"$'\x1f'"04:00:00"$'\x1f'"train.warm_start=true$" t1.tsv
# the night's ingest agrees with the plan's counts
"$ASSORT_BIN" ingest --update --csv n2/catalog.csv --images n2 --set ingest.image_size=32 cat.h5 > ing.txt 2>&1
expect "ingest --update agrees: 7 new, 12 changed, 5 removed" grep -q "7 new, 12 changed, 283 unchanged, 5 removed" ing.txt
# same night again: nothing changes, train/similarity are skipped (heads/similarity absent: they still run)
"$ASSORT_BIN" nightly --plan "$yaml" --csv n2/catalog.csv --images n2 cat.h5 > p2.txt
expect "same night again: 0 new, 0 changed, 0 removed" grep -q "ingest: 0 new, 0 changed (0 image, 0 reactivated), 0 removed" p2.txt
expect "same night again: train still runs without heads" grep -q "train: no heads stored yet" p2.txt

# errors
rc=0; "$ASSORT_BIN" nightly --plan nope.yaml cat.h5 2> e1.txt || rc=$?
expect "missing pipeline file: exit 1 naming it (got $rc)" bash -c "[ $rc -eq 1 ] && grep -q 'nope.yaml: cannot open' e1.txt"
printf 'stages:\n  - name: x\n    command: train\n    resources: {rank: 2}\n' > bad.yaml
rc=0; "$ASSORT_BIN" nightly --plan bad.yaml cat.h5 2> e2.txt || rc=$?
cat e2.txt
expect "bad key: exit 2 with file:line:col (got $rc)" bash -c "[ $rc -eq 2 ] && grep -q 'bad.yaml:4:17: unknown resource key .rank.' e2.txt"
rc=0; "$ASSORT_BIN" nightly cat.h5 2> e3.txt || rc=$?
expect "neither --plan nor --diff: exit 2" [ "$rc" -eq 2 ]
rc=0; "$ASSORT_BIN" nightly --diff cat.h5 2> e4.txt || rc=$?
expect "--diff without predictions: exit 3 with the fix (got $rc)" bash -c "[ $rc -eq 3 ] && grep -q 'run .assort classify. first' e4.txt"

# slurm/nightly.sh --plan: prints the plan, submits nothing (no sbatch needed)
rc=0; ASSORT_BIN=$ASSORT_BIN ASSORT_CATALOG=$d/cat.h5 NIGHTLY_LOCK=$d/lock NIGHTLY_LOG=$d/cron.log \
  PATH=/usr/bin:/bin "$ASSORT_SRC/slurm/nightly.sh" --plan --csv n2/catalog.csv --images n2 "$yaml" > s.out 2> s.err || rc=$?
expect "nightly.sh --plan: exit 0 (got $rc), no job ids" bash -c "[ $rc -eq 0 ] && [ ! -s s.out ]"
expect "nightly.sh --plan: plan on stderr and in the log" bash -c "grep -q 'ingest: 0 new' s.err && grep -q 'ingest: 0 new' cron.log"
exec 8>>"$d/lock"; flock -n 8
rc=0; ASSORT_BIN=$ASSORT_BIN ASSORT_CATALOG=$d/cat.h5 NIGHTLY_LOCK=$d/lock "$ASSORT_SRC/slurm/nightly.sh" --plan "$yaml" 2> s2.err || rc=$?
expect "nightly.sh: a held lock refuses a second run (exit $rc)" bash -c "[ $rc -eq 1 ] && grep -q 'another nightly submission holds' s2.err"
exec 8>&-
[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
