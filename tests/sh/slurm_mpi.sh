#!/usr/bin/env bash
# slurm_mpi.sh - on a real single-node Slurm: slurm/extract.sbatch launches a
# 2-rank MPI program through srun --mpi=pmix with the config, overrides, extra
# arguments and catalog passed through intact (spaces included); a failing step's
# exit code reaches sbatch --wait and sacct -c; assort itself forms one 2-rank MPI
# world under srun; sweep.sbatch runs one array task per sweep entry and records it.
# shellcheck source=tests/sh/slurm_common.sh
. "$(dirname "$0")/slurm_common.sh"
slurm_up
d=$SLURM_TEST_DIR
cd "$d"

# A real MPI rank check: world size, an allreduce, distinct processes, and the
# argument vector exactly as received (one line per argument, from rank 0).
cat > mpi_check.c <<'C'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int rank, size, sum = 0, one;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    one = rank + 1;
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    int pid = (int)getpid(), pids[64] = {0};
    MPI_Gather(&pid, 1, MPI_INT, pids, 1, MPI_INT, 0, MPI_COMM_WORLD);
    printf("rank %d of %d sum %d job %s omp %s\n", rank, size, sum,
           getenv("SLURM_JOB_ID") ? getenv("SLURM_JOB_ID") : "-",
           getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "-");
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        printf("distinct pids %d\n", size == 2 && pids[0] != pids[1]);
        for (int i = 1; i < argc; i++) printf("arg[%d]=%s\n", i, argv[i]);
    }
    MPI_Finalize();
    return 0;
}
C
mpicc -o mpi_check mpi_check.c

# 1. the job layer: config, overrides and catalog with spaces, extra arguments.
mkdir -p "cfg dir"
echo "extract: {batch: 8}" > "cfg dir/my cfg.yaml"
out="$d/extract.out"
rc=0
jid=$(ASSORT_BIN="$d/mpi_check" ASSORT_CONFIG="$d/cfg dir/my cfg.yaml" \
      ASSORT_SET=" train.lr=0.5;name.note=two words ; " ASSORT_CATALOG="$d/cat alog.h5" \
      sbatch --parsable --wait -o "$out" "$ASSORT_SRC/slurm/extract.sbatch" --extra "x y") || rc=$?
jid=${jid%%;*}
cat "$out"
expect "sbatch --wait exit code 0 (got $rc)" [ "$rc" -eq 0 ]
expect "rank 0 of 2, allreduce sum 3, inside the job" grep -qx "rank 0 of 2 sum 3 job $jid omp 1" "$out"
expect "rank 1 of 2, allreduce sum 3, inside the job" grep -qx "rank 1 of 2 sum 3 job $jid omp 1" "$out"
expect "exactly two ranks" [ "$(grep -c '^rank ' "$out")" -eq 2 ]
expect "two distinct processes" grep -qx "distinct pids 1" "$out"
expected_args=(extract -c "$d/cfg dir/my cfg.yaml" --set train.lr=0.5 --set "name.note=two words"
               --extra "x y" "$d/cat alog.h5")
got=$(grep '^arg\[' "$out" || true)
want=$(for i in "${!expected_args[@]}"; do printf 'arg[%d]=%s\n' $((i + 1)) "${expected_args[$i]}"; done)
expect "argument vector passed through intact" [ "$got" = "$want" ]
[ "$got" = "$want" ] || diff <(echo "$want") <(echo "$got") || true
st=$(sacct -c -n -j "$jid" -o state | tr -d ' ')
expect "sacct -c: job $jid COMPLETED (got '$st')" [ "$st" = COMPLETED ]

# 2. a failing step: its exit code is the job's.
printf '#!/bin/sh\necho "bad input" >&2\nexit 3\n' > fail3
chmod +x fail3
rc=0
jid=$(ASSORT_BIN="$d/fail3" sbatch --parsable --wait -o "$d/fail.out" "$ASSORT_SRC/slurm/classify.sbatch") || rc=$?
jid=${jid%%;*}
expect "failing step: sbatch --wait exit code 3 (got $rc)" [ "$rc" -eq 3 ]
st=$(sacct -c -n -j "$jid" -o state,exitcode | tr -s ' ' | sed 's/^ //;s/ $//')
expect "sacct -c: FAILED 3:0 (got '$st')" [ "$st" = "FAILED 3:0" ]
expect "no requeue for a plain failure" bash -c "! grep -q requeu '$d/fail.out'"

# 3. assort itself under srun --mpi=pmix: 2 ranks, one world, rank 0 alone prints.
# Under ASSORT_SANITIZE, LeakSanitizer reports allocations of Open MPI's PMIx
# components (unloaded modules, no symbols to suppress) at exit under srun; this
# check is about MPI under srun, so leak detection is off for this one step.
rc=0
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  sbatch --wait -n 2 -o "$d/version.out" --wrap "srun --mpi=pmix '$ASSORT_BIN' --version" >/dev/null || rc=$?
cat "$d/version.out"
expect "assort --version under srun: exit 0 (got $rc)" [ "$rc" -eq 0 ]
expect "assort --version under srun: one line from rank 0 of one 2-rank world" \
  [ "$(grep -c '^assort [0-9]' "$d/version.out")" -eq 1 ]

# 4. a sweep: 3 entries (overrides, a config file, overrides), comments and blanks skipped.
printf '# lr sweep\ntrain.lr=0.1; train.head=mlp\n\n%s\ntrain.lr=0.3\n' "$d/cfg dir/my cfg.yaml" > sweep.txt
n=$(grep -cv '^[[:space:]]*\(#\|$\)' sweep.txt)
expect "sweep file has 3 entries" [ "$n" -eq 3 ]
rc=0
jid=$(ASSORT_BIN="$d/mpi_check" ASSORT_SWEEP="$d/sweep.txt" ASSORT_SET="train.epochs=2" ASSORT_SWEEP_DIR="$d/sweep" \
      sbatch --parsable --wait --array=1-"$n" -o "$d/sweep-%a.out" "$ASSORT_SRC/slurm/sweep.sbatch") || rc=$?
jid=${jid%%;*}
expect "sweep array: exit 0 (got $rc)" [ "$rc" -eq 0 ]
expect "task 1 got its overrides" grep -qx 'arg\[5\]=train.lr=0.1' "$d/sweep-1.out"
expect "task 1 got both overrides after ASSORT_SET" \
  bash -c "grep '^arg' '$d/sweep-1.out' | tr '\n' ' ' | grep -qF 'arg[1]=train arg[2]=--set arg[3]=train.epochs=2 arg[4]=--set arg[5]=train.lr=0.1 arg[6]=--set arg[7]=train.head=mlp '"
expect "task 2 got the config file" \
  bash -c "grep '^arg' '$d/sweep-2.out' | tr '\n' ' ' | grep -qF 'arg[2]=-c arg[3]=$d/cfg dir/my cfg.yaml arg[4]=--set arg[5]=train.epochs=2 '"
expect "task 3 got its override" grep -qx 'arg\[5\]=train.lr=0.3' "$d/sweep-3.out"
for t in 1 2 3; do
  expect "task $t ran 2 ranks" [ "$(grep -c '^rank ' "$d/sweep-$t.out")" -eq 2 ]
  expect "task $t record: exit_code=0, outcome=completed" \
    bash -c "grep -qx exit_code=0 '$d/sweep/task-$t.run' && grep -qx outcome=completed '$d/sweep/task-$t.run' && grep -qx task=$t '$d/sweep/task-$t.run'"
done
expect "task 2 record names its config" grep -qxF "config=$d/cfg dir/my cfg.yaml" "$d/sweep/task-2.run"
expect "runs.tsv has one line per task" [ "$(cut -f1 "$d/sweep/runs.tsv" | sort | tr '\n' ' ')" = "1 2 3 " ]
# jobcomp/filetxt has no array fields: each task is a row under its own job id.
st=$(sacct -c -n -o jobname%20,state 2>/dev/null | awk '$1 == "assort-sweep" {print $2}' | sort | uniq -c | tr -s ' ' | sed 's/^ //')
expect "sacct -c: 3 sweep tasks COMPLETED (got '$st')" [ "$st" = "3 COMPLETED" ]

# 5. the nightly chain draft: stages in order through afterok; a failed stage
# cancels the ones after it.
cat > stage-check <<'SH'
#!/bin/sh
[ "${SLURM_PROCID:-0}" = 0 ] && echo "$1 $SLURM_JOB_ID" >> "$CHAIN_LOG"
[ "$1" = "${FAIL_STAGE:-}" ] && exit 5
exit 0
SH
chmod +x stage-check
rc=0
ids=$(CHAIN_LOG="$d/chain1.log" NIGHTLY_WAIT=1 NIGHTLY_LOCK="$d/nightly.lock" ASSORT_BIN="$d/stage-check" \
      ASSORT_CATALOG="$d/cat.h5" "$ASSORT_SRC/slurm/nightly.sh" -o "$d/chain-%j.out") || rc=$?
echo "$ids"
expect "nightly chain: exit 0 (got $rc)" [ "$rc" -eq 0 ]
expect "nightly chain: 5 stages ran in order" \
  [ "$(cut -d' ' -f1 "$d/chain1.log" | tr '\n' ' ')" = "ingest extract train similarity classify " ]
expect "nightly chain: printed job ids are the ones that ran" [ "$ids" = "$(cat "$d/chain1.log")" ]
rc=0
ids=$(CHAIN_LOG="$d/chain2.log" FAIL_STAGE=train NIGHTLY_WAIT=1 NIGHTLY_LOCK="$d/nightly.lock" \
      ASSORT_BIN="$d/stage-check" ASSORT_CATALOG="$d/cat.h5" "$ASSORT_SRC/slurm/nightly.sh" -o "$d/chain-%j.out") || rc=$?
expect "nightly chain with train failing: exit 1 (got $rc)" [ "$rc" -eq 1 ]
expect "nightly chain with train failing: stops after train" \
  [ "$(cut -d' ' -f1 "$d/chain2.log" | tr '\n' ' ')" = "ingest extract train " ]
cls=$(awk '$1 == "classify" {print $2}' <<<"$ids")
expect "nightly chain with train failing: classify CANCELLED" [ "$(job_state "$cls")" = CANCELLED ]
finish
