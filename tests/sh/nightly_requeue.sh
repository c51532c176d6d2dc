#!/usr/bin/env bash
# nightly_requeue.sh - the real extract stage under a deliberately short time limit
# on a real single-node Slurm: slurm/extract.sbatch with --time=2
# --signal=B:USR1@80, so the batch shell gets USR1 at a time-limit check. The
# catalog is sized from this machine's measured extract rate so that the work takes
# about 80 s on 2 ranks (at least 800 products): on a fast machine a fixed 2,000
# products finished before the warning (seen in CI: 124 images/s, 16 s). Slurm
# sends the warning at its periodic (60 s) time-limit check, seen 10-30 s into a run,
# so a run does at most ~60 s of work and the job needs 2-4 runs. The
# shell gets USR1, assort extract checkpoints and exits 4, the job requeues itself
# and the next run continues; the job ends COMPLETED with Restarts >= 1, and its
# features are bit-identical to an uninterrupted extract of the same catalog (run
# after the job, outside Slurm, on a copy taken before it).
# shellcheck source=tests/sh/nightly_common.sh
. "$(dirname "$0")/nightly_common.sh"
export SLURM_LOCAL_CPUS=2
slurm_up
d=$SLURM_TEST_DIR
cd "$d"
write_config "$d/cfg.yaml"
# Rate: an extract of 400 products, 2 ranks, outside Slurm (compute rate as logged).
"$ASSORT_SRC/tools/make-demo-data" "$d/probe" 400 >/dev/null
"$ASSORT_BIN" ingest -c cfg.yaml --csv probe/catalog.csv --images probe probe.h5 > probe.log 2>&1
# shellcheck disable=SC2086  # MPIEXEC is a command line
$MPIEXEC -n 2 "$ASSORT_BIN" extract -c cfg.yaml probe.h5 >> probe.log 2>&1
rate=$(grep -o '[0-9.]* images/s' probe.log | tail -n 1 | cut -d' ' -f1)
n=$(awk -v r="${rate:-0}" 'BEGIN { n = int(r * 80); if (n < 800) n = 800; if (n > 40000) n = 40000; print n }')
echo "measured extract rate ${rate:-?} images/s on 2 ranks -> $n products (~80 s of work)"
rm -rf probe probe.h5
"$ASSORT_SRC/tools/make-demo-data" "$d/data" "$n" >/dev/null
"$ASSORT_BIN" ingest -c cfg.yaml --csv data/catalog.csv --images data cat.h5 > ingest.log 2>&1
cp cat.h5 ref.h5

t0=$(date +%s)
id=$(ASSORT_CATALOG=$d/cat.h5 ASSORT_CONFIG=$d/cfg.yaml sbatch --parsable --time=2 --signal=B:USR1@80 \
     -o "$d/job.out" "$ASSORT_SRC/slurm/extract.sbatch")
st=$(wait_job "$id" 600) || true
echo "--- job $id ($st, $(( $(date +%s) - t0 )) s)"; cat job.out
expect "job COMPLETED (got $st)" [ "$st" = COMPLETED ]
restarts=$(scontrol show job -o "$id" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
expect "job was requeued at least once (Restarts=$restarts)" [ "${restarts:-0}" -ge 1 ]
expect "batch shell got the warning signal" grep -q "USR1 received" job.out
expect "assort exited 4 after a checkpoint, the job requeued itself" \
  bash -c "grep -q 'step ended with exit code 4' job.out && grep -q 'requeuing job $id' job.out"
rows=$(sacct -c -n -j "$id" -o state 2>/dev/null | tr -d ' ' | tr '\n' ' ')
expect "sacct -c: one row per run, the last COMPLETED (got '$rows')" \
  bash -c "[ \$(echo '$rows' | wc -w) -eq $((restarts + 1)) ] && [ \"\$(echo '$rows' | awk '{print \$NF}')\" = COMPLETED ]"
t0=$(date +%s)
# shellcheck disable=SC2086  # MPIEXEC is a command line
$MPIEXEC -n 2 "$ASSORT_BIN" extract -c cfg.yaml ref.h5 > ref.log 2>&1
echo "uninterrupted extract: $(( $(date +%s) - t0 )) s; $(grep -o '[0-9.]* images/s' ref.log | tail -n 1)"
read -r same valid dirty runs resumed <<<"$("$py" - cat.h5 ref.h5 <<'PY'
import sys, json, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
fa, fb = a["/features/lite0/data"][...], b["/features/lite0/data"][...]
runs = [json.loads(a["/runs"][k]["metrics_json"][()]) for k in sorted(a["/runs"])
        if a["/runs"][k].attrs["command"] in (b"extract", "extract") and int(a["/runs"][k].attrs.get("complete", 0))]
print(fa.shape == fb.shape and np.array_equal(fa, fb), int(a["/features/lite0/valid"][...].sum()),
      int(a["/products/dirty"][...].sum()), len(runs), runs[-1]["resumed"] if runs else None)
PY
)"
expect "features identical to the uninterrupted run (bit for bit)" [ "$same" = True ]
expect "$n valid features, 0 dirty rows (got $valid, $dirty)" [ "$valid $dirty" = "$n 0" ]
expect "one committed extract run, which resumed the interrupted work copy (got $runs, $resumed)" \
  [ "$runs $resumed" = "1 True" ]
finish
