#!/usr/bin/env bash
# slurm_scripts.sh - the job scripts without a cluster: they parse (and pass
# the linter where installed), every script carries the preemption options, GPU
# variants ask for one GPU per rank, and the command line each one builds from
# the environment is exactly the expected argument vector (ASSORT_DRY_RUN=1).
set -euo pipefail
: "${ASSORT_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
s=$ASSORT_SRC/slurm
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() { local d=$1; shift; if "$@"; then echo "ok: $d"; else fail "$d"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset SLURM_JOB_ID SLURM_ARRAY_TASK_ID SLURM_NTASKS SLURM_CPUS_PER_TASK ASSORT_CONFIG ASSORT_SET ASSORT_CATALOG

for f in "$s"/*.sbatch "$s"/assort-job.sh "$ASSORT_SRC/tools/slurm-local"; do
  expect "$(basename "$f") parses" bash -n "$f"
done
if command -v shellcheck >/dev/null; then
  expect "shellcheck clean" bash -c "cd '$ASSORT_SRC' && shellcheck -x slurm/*.sbatch slurm/assort-job.sh slurm/nightly.sh tools/slurm-local tests/sh/slurm_*.sh tests/sh/nightly_slurm.sh tests/sh/nightly_changed.sh"
else
  echo "note: shellcheck not installed; lint skipped"
fi

for f in "$s"/*.sbatch; do
  b=$(basename "$f")
  for opt in '--signal=B:USR1@120' '--requeue' '--open-mode=append' '--time='; do
    expect "$b has #SBATCH $opt" grep -q "^#SBATCH $opt" "$f"
  done
  case "$b" in
    *-gpu.sbatch) expect "$b: one GPU per rank" grep -qx '#SBATCH --gpus-per-task=1' "$f" ;;
    *) expect "$b: no GPU request" bash -c "! grep -q 'gpus' '$f'" ;;
  esac
done
for st in extract train similarity classify; do
  expect "$st has CPU and GPU variants" test -f "$s/$st.sbatch" -a -f "$s/$st-gpu.sbatch"
done
expect "ingest.sbatch exists" test -f "$s/ingest.sbatch"

# GPU variants cannot run here (no GPU): check them statically against their CPU twin.
# sbatch --test-only against a controller that is not there (port 1) parses every
# #SBATCH option and validates the job spec (GPU request against a node with one gres
# gpu) before it connects: a script that gets as far as "Unable to contact slurm
# controller" has a header sbatch accepts (checked: --bogus, --gpus-per-task=x fail).
if command -v sbatch >/dev/null; then
  # MessageTimeout=1: sbatch gives up at once (the default retries the connect ~18 s)
  printf '%s\n' ClusterName=x SlurmctldHost=localhost SlurmctldPort=1 MessageTimeout=1 SelectType=select/cons_tres \
    GresTypes=gpu 'NodeName=localhost CPUs=8 Gres=gpu:1' 'PartitionName=p Nodes=localhost Default=YES' > "$tmp/min.conf"
  printf '#!/bin/bash\n#SBATCH --gpus-per-task=x\ntrue\n' > "$tmp/bad.sbatch"
  for f in "$s"/*.sbatch "$tmp/bad.sbatch"; do
    out=$(SLURM_CONF=$tmp/min.conf timeout 20 sbatch --test-only "$f" 2>&1 || true)
    if [ "$f" = "$tmp/bad.sbatch" ]; then
      expect "sbatch --test-only refuses a bad GPU request (the check can fail)" bash -c "! grep -q 'Unable to contact' <<<\"\$1\"" _ "$out"
    else
      expect "$(basename "$f"): sbatch --test-only accepts the header ($(tail -n 1 <<<"$out"))" grep -q 'Unable to contact slurm controller' <<<"$out"
    fi
  done
else
  echo "note: sbatch not installed; --test-only checks skipped"
fi
for st in extract train similarity classify; do
  g=$s/$st-gpu.sbatch c=$s/$st.sbatch
  # the GPU header: one rank per GPU with more CPUs each; all else as the CPU twin's
  expect "$st-gpu: #SBATCH lines = $st's except ntasks/cpus-per-task, + --gpus-per-task=1" \
    [ "$( (grep '^#SBATCH' "$c" | grep -v -e '--ntasks=' -e '--cpus-per-task='; echo '#SBATCH --gpus-per-task=1') | sort)" \
      = "$(grep '^#SBATCH' "$g" | grep -v -e '--ntasks=' -e '--cpus-per-task=' | sort)" ]
  expect "$st-gpu: body = $st's + export ASSORT_GPU=1" \
    [ "$( (grep -v '^#' "$c"; echo 'export ASSORT_GPU=1') | sort)" = "$(grep -v '^#' "$g" | sort)" ]
done

# The argument vector, one word per line, from a dry run's %q-quoted command.
words() { local line; line=$("$@" 2>/dev/null | tail -n 1); eval "printf '%s\n' $line"; }
printf '#!/bin/sh\nexit 0\n' > "$tmp/assort"; chmod +x "$tmp/assort"
mkdir "$tmp/c d"; touch "$tmp/c d/x.yaml"

got=$(ASSORT_DRY_RUN=1 ASSORT_BIN="$tmp/assort" ASSORT_CONFIG="$tmp/c d/x.yaml" \
      ASSORT_SET="a.b=1;  c.d=two words ;" ASSORT_CATALOG="$tmp/cat.h5" SLURM_CPUS_PER_TASK=3 \
      words bash "$s/extract-gpu.sbatch" --backbone lite0)
want=$(printf '%s\n' srun --mpi=pmix --cpus-per-task=3 "$tmp/assort" extract \
       -c "$tmp/c d/x.yaml" --set a.b=1 --set "c.d=two words" --set extract.device=gpu \
       --backbone lite0 "$tmp/cat.h5")
expect "extract-gpu: srun --mpi=pmix, config, overrides, gpu device, args, catalog" [ "$got" = "$want" ]

got=$(ASSORT_DRY_RUN=1 ASSORT_BIN="$tmp/assort" ASSORT_LAUNCH=mpirun SLURM_NTASKS=4 words bash "$s/train.sbatch")
want=$(printf '%s\n' mpirun -n 4 --bind-to none "$tmp/assort" train)
expect "train with ASSORT_LAUNCH=mpirun: mpirun -n SLURM_NTASKS" [ "$got" = "$want" ]

for st in train similarity classify; do
  got=$(ASSORT_DRY_RUN=1 ASSORT_BIN="$tmp/assort" words bash "$s/$st-gpu.sbatch" --x "a b")
  expect "$st-gpu: srun --mpi=pmix, args, no extract.device override" \
    [ "$got" = "$(printf '%s\n' srun --mpi=pmix --cpus-per-task=1 "$tmp/assort" "$st" --x "a b")" ]
done

rc=0; msg=$(ASSORT_BIN="$tmp/nope" bash "$s/classify.sbatch" 2>&1) || rc=$?
expect "missing ASSORT_BIN: exit 2 with the fix (rc $rc)" bash -c "[ $rc -eq 2 ] && grep -q 'ASSORT_BIN=$tmp/nope is not an executable' <<<\"\$1\"" _ "$msg"
rc=0; msg=$(ASSORT_BIN="$tmp/assort" ASSORT_CONFIG="$tmp/none.yaml" bash "$s/classify.sbatch" 2>&1) || rc=$?
expect "unreadable ASSORT_CONFIG: exit 2 (rc $rc)" bash -c "[ $rc -eq 2 ] && grep -q 'none.yaml is not a readable file' <<<\"\$1\"" _ "$msg"
rc=0; msg=$(ASSORT_BIN="$tmp/assort" ASSORT_LAUNCH=bogus bash "$s/classify.sbatch" 2>&1) || rc=$?
expect "bad ASSORT_LAUNCH: exit 2 (rc $rc)" [ "$rc" -eq 2 ]

# Outside Slurm an exit 4 is passed on (nothing to requeue).
printf '#!/bin/sh\nexit 4\n' > "$tmp/four"; chmod +x "$tmp/four"
rc=0; ASSORT_BIN="$tmp/four" ASSORT_LAUNCH=none bash "$s/train.sbatch" 2>/dev/null || rc=$?
expect "exit 4 outside Slurm stays 4 (rc $rc)" [ "$rc" -eq 4 ]

# sweep: entry selection and its errors.
printf '# c\n\n a.b=1 ; c.d=2\n%s\n' "$tmp/c d/x.yaml" > "$tmp/sweep.txt"
got=$(ASSORT_DRY_RUN=1 ASSORT_BIN="$tmp/assort" ASSORT_SWEEP="$tmp/sweep.txt" ASSORT_SWEEP_DIR="$tmp/rec" \
      SLURM_ARRAY_TASK_ID=1 ASSORT_LAUNCH=none words bash "$s/sweep.sbatch")
expect "sweep entry 1: overrides" [ "$got" = "$(printf '%s\n' "$tmp/assort" train --set a.b=1 --set c.d=2)" ]
got=$(ASSORT_DRY_RUN=1 ASSORT_BIN="$tmp/assort" ASSORT_SWEEP="$tmp/sweep.txt" ASSORT_SWEEP_DIR="$tmp/rec" \
      SLURM_ARRAY_TASK_ID=2 ASSORT_STAGE=classify ASSORT_LAUNCH=none words bash "$s/sweep.sbatch")
expect "sweep entry 2: config file, ASSORT_STAGE" [ "$got" = "$(printf '%s\n' "$tmp/assort" classify -c "$tmp/c d/x.yaml")" ]
expect "sweep record written" grep -qx 'entry=a.b=1 ; c.d=2' "$tmp/rec/task-1.run"
rc=0; msg=$(ASSORT_BIN="$tmp/assort" ASSORT_SWEEP="$tmp/sweep.txt" SLURM_ARRAY_TASK_ID=3 bash "$s/sweep.sbatch" 2>&1) || rc=$?
expect "sweep entry 3 of 2: exit 2 naming the count (rc $rc)" bash -c "[ $rc -eq 2 ] && grep -q 'has no entry 3 (it has 2)' <<<\"\$1\"" _ "$msg"
rc=0; msg=$(ASSORT_BIN="$tmp/assort" ASSORT_SWEEP="$tmp/sweep.txt" bash "$s/sweep.sbatch" 2>&1) || rc=$?
expect "sweep without --array: exit 2 (rc $rc)" bash -c "[ $rc -eq 2 ] && grep -q 'submit with sbatch --array' <<<\"\$1\"" _ "$msg"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
