#!/usr/bin/env bash
# extract_errors.sh - bad input gives a clear one-line message, the right exit
# code, and leaves the catalog and no work copy behind: missing weights (says
# tools/import-weights and tools/setup-deps), a catalog without images,
# image size refused (extract.resize=refuse says ingest.image_size=N), a GPU
# asked for where none is usable, a bad --backbone.
source "$(dirname "$0")/extract_common.sh"
"$util" mkcat "$tmp/img.h5" 4 200
"$util" mkcat "$tmp/noimg.h5" 4 0
sum=$(sha256sum < "$tmp/img.h5")
run() {  # expected-rc pattern description args...
  local want=$1 pat=$2 what=$3; shift 3
  local rc=0
  "$bin" extract "$@" > "$tmp/out.txt" 2>&1 || rc=$?
  check "$what: exit $want" same "$rc" "$want"
  check "$what: message" grep -q -- "$pat" "$tmp/out.txt"
  sed 's/^/     /' "$tmp/out.txt" | tail -1
}
run 3 "tools/import-weights" "missing weights" "$tmp/img.h5" --set extract.weights_dir="$tmp/none"
check "missing weights: message says tools/setup-deps" grep -q "tools/setup-deps" "$tmp/out.txt"
run 3 "run \`assort ingest\` first" "no images" "$tmp/noimg.h5" --set extract.weights_dir="$src/weights"
run 3 "ingest.image_size=224" "size refused" "$tmp/img.h5" --set extract.weights_dir="$src/weights" --set extract.resize=refuse
run 2 "use --device cpu" "gpu unavailable" "$tmp/img.h5" --set extract.weights_dir="$src/weights" --device gpu
run 2 "expected lite0, lite1 or lite2" "bad backbone" "$tmp/img.h5" --backbone lite9
check "catalog untouched by the failures" same "$(sha256sum < "$tmp/img.h5")" "$sum"
check "no work copy left" test ! -e "$tmp/img.h5.work" -a ! -e "$tmp/noimg.h5.work"

# More threads than the rank's CPU affinity allows (taskset stands in for
# mpirun's default one-core binding): a warning that says how to start it.
if command -v taskset > /dev/null; then
  taskset -c 0 "$bin" extract "$tmp/img.h5" --all --set extract.weights_dir="$src/weights" \
    --set run.threads=2 > "$tmp/aff.txt" 2>&1 || true
  check "2 threads on 1 allowed CPU: warning names --map-by slot:PE=2" \
    grep -q "may run on only 1 CPU(s).*--map-by slot:PE=2" "$tmp/aff.txt"
  taskset -c 0 "$bin" extract "$tmp/img.h5" --all --set extract.weights_dir="$src/weights" \
    > "$tmp/aff0.txt" 2>&1 || true
  check "default threads follow the affinity: no warning" bash -c "! grep -q 'may run on only' '$tmp/aff0.txt'"
fi
exit $fail
