#!/bin/bash
# Seconds per epoch of `assort train`'s trainer with 1 and 2 MPI ranks on
# synthetic 40k x 1280 features (141 classes), and the share of step time
# spent in the gradient allreduce, printed as ratios in the same run.
#   tools/bench/bench_train.sh [BUILD_DIR] [ROWS] [EPOCHS]
# Each run gets cores/ranks OpenBLAS threads so both use the whole machine.
set -euo pipefail
build=${1:-build}
rows=${2:-40000}
epochs=${3:-2}
bin="$build/tools/bench_train"
[ -x "$bin" ] || { echo "bench_train: build first ($bin missing)" >&2; exit 1; }
cores=$(nproc)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for head in linear mlp; do
    declare -A sec share
    for r in 1 2; do
        t=$(( cores / r )); [ "$t" -ge 1 ] || t=1
        line=$(OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t mpirun --oversubscribe -n $r \
               "$bin" "$rows" "$epochs" "$head" | grep '^RESULT')
        echo "$line"
        sec[$r]=$(sed -E 's/.*sec_per_epoch=([0-9.]+).*/\1/' <<<"$line")
        share[$r]=$(sed -E 's/.*allreduce_share=([0-9.]+).*/\1/' <<<"$line")
    done
    awk -v h="$head" -v s1="${sec[1]}" -v s2="${sec[2]}" -v a1="${share[1]}" -v a2="${share[2]}" \
        'BEGIN { printf "%s: sec/epoch 1 rank %.3f, 2 ranks %.3f, speed-up %.2fx; allreduce share of step time %.1f%% (1 rank), %.1f%% (2 ranks)\n", h, s1, s2, s1 / s2, 100 * a1, 100 * a2 }'
    unset sec share
done
