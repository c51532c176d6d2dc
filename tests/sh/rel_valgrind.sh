#!/usr/bin/env bash
# rel_valgrind - valgrind memcheck over a small end-to-end run of what exists
# (single process, no mpirun): config load + emit (with includes and --set),
# a catalog created, updated and read (`assort info`), the weights loader on
# a good and a corrupt file, a refused corrupt catalog, and the pipeline on a
# 12-product sample of the shared fashion data (ingest, extract with Lite0 on
# 2 of them, train, similarity, classify; skipped without the data or weights;
# REL_VALGRIND_PIPELINE=0 leaves it out). Any memcheck error
# or definite leak outside the suppressed library internals
# (tests/valgrind.supp: Open MPI, PMIx, HDF5, ...) fails the test.
# Skips (77) when valgrind is missing or the build is instrumented (ASan).
set -uo pipefail
: "${ASSORT_SRC:?}" "${ASSORT_BUILD:?}" "${ASSORT_BIN:?}"
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed (apt-get install valgrind)"; exit 77; }
if [ "${ASSORT_SANITIZE:-0}" = 1 ]; then
  echo "SKIP: valgrind cannot run an AddressSanitizer build; it runs in the normal build"
  exit 77
fi
tool="$ASSORT_BUILD/tests/rel_tool"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Open MPI's components stay loaded so that their allocations are named.
export OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-origins=no --child-silent-after-fork=no
    --suppressions="$ASSORT_SRC/tests/valgrind.supp")
fails=0 runs=0
run() { # label expected_rc cmd...
  local label=$1 want=$2; shift 2
  runs=$((runs + 1))
  timeout 600 "${vg[@]}" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -eq 99 ] || grep -q '^==[0-9]*== ' "$tmp/err"; then
    echo "FAIL: $label: valgrind reported errors:"; grep '^==' "$tmp/err" | head -40
    fails=$((fails + 1))
  elif [ $rc -ne "$want" ]; then
    echo "FAIL: $label: exit $rc, expected $want"; tail -5 "$tmp/err"
    fails=$((fails + 1))
  else
    echo "ok: $label (exit $rc)"
  fi
}

cfg="$ASSORT_SRC/tests/data/config"
run "assort config (includes, --set)" 0 "$ASSORT_BIN" config -c "$cfg/top.yaml" --set train.epochs=3
run "assort config with a bad key" 2 "$ASSORT_BIN" config -c "$cfg/err_unknown.yaml"
run "catalog create" 0 "$tool" catalog-write "$tmp/cat.h5" 5
run "catalog update (transaction on a copy)" 0 "$tool" catalog-write "$tmp/cat.h5" 7
run "assort info" 0 "$ASSORT_BIN" info "$tmp/cat.h5"
run "assort info on the catalog seed" 0 "$ASSORT_BIN" info "$ASSORT_SRC/tests/fuzz/catalog/seeds/catalog_tiny.h5"
head -c 2048 "$tmp/cat.h5" >"$tmp/cut.h5"
run "assort info on a truncated catalog" 3 "$ASSORT_BIN" info "$tmp/cut.h5"
run "effnet_load" 0 "$tool" open-weights "$ASSORT_SRC/tests/fuzz/weights/seeds/weights_tiny.h5"
run "effnet_load, truncated" 3 "$tool" open-weights "$ASSORT_SRC/tests/fuzz/weights/seeds/truncated_4k.h5"
run "atomic write" 0 "$tool" write-atomic "$tmp/out.txt" 5000

# --- the pipeline on a tiny catalog ------------------------------------------------
shared=${ASSORT_SHARED:-$ASSORT_SRC/../shared}
if [ "${REL_VALGRIND_PIPELINE:-1}" = 0 ]; then
  echo "pipeline: left out (REL_VALGRIND_PIPELINE=0)"
elif [ ! -f "$shared/data/fashion/images.tar" ] || [ ! -f "$ASSORT_SRC/weights/efficientnet_lite0.h5" ]; then
  echo "pipeline: skipped (no $shared/data/fashion or weights/efficientnet_lite0.h5)"
else
  ASSORT_SHARED="$shared" "$ASSORT_SRC/tools/make-demo-data" "$tmp/demo" 12 >/dev/null
  p=(--set run.threads=1 --set "extract.weights_dir=$ASSORT_SRC/weights" --set extract.device=cpu
     --set extract.batch=2 --set train.epochs=2 --set train.batch=4 --set train.min_class_count=2
     --set similarity.k=3)
  run "ingest (12 products)" 0 "$ASSORT_BIN" ingest "${p[@]}" --csv "$tmp/demo/catalog.csv" --images "$tmp/demo" "$tmp/p.h5"
  # Lite0 on the CPU is slow under memcheck: extract runs under valgrind on 2 of
  # the products; the 12-product catalog gets its features outside valgrind.
  head -n 3 "$tmp/demo/catalog.csv" > "$tmp/two.csv"
  "$ASSORT_BIN" ingest "${p[@]}" --csv "$tmp/two.csv" --images "$tmp/demo" "$tmp/two.h5" >/dev/null 2>&1
  run "extract (Lite0, CPU, 2 products)" 0 "$ASSORT_BIN" extract "${p[@]}" "$tmp/two.h5"
  "$ASSORT_BIN" extract "${p[@]}" "$tmp/p.h5" >/dev/null 2>&1 || { echo "FAIL: extract outside valgrind"; fails=$((fails + 1)); }
  run "train (2 levels, 2 epochs)" 0 "$ASSORT_BIN" train "${p[@]}" "$tmp/p.h5"
  run "similarity" 0 "$ASSORT_BIN" similarity "${p[@]}" "$tmp/p.h5"
  run "classify" 0 "$ASSORT_BIN" classify "${p[@]}" "$tmp/p.h5"
fi

echo "$runs runs under valgrind, $fails failed"
[ $fails -eq 0 ]
