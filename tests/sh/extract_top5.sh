#!/usr/bin/env bash
# extract_top5.sh - `assort imagenet-top5` on the sanity photos (.cache/sanity,
# from tools/fetch-sanity-photos): grace_hopper top-1 652, chelsea top-1 in
# {281,282,285}, coffee top-1 in {967,968,504}, china 698 within the top-5.
# Lite0 always; lite1/lite2 when their weights are present.
source "$(dirname "$0")/extract_common.sh"
photos=$src/.cache/sanity
for p in grace_hopper.jpg chelsea.png coffee.png china.jpg; do
  [ -f "$photos/$p" ] || skip "no $photos/$p (run tools/fetch-sanity-photos)"
done
classes() {  # output file, image name, how many -> class indices
  awk -v img="$2" -v k="$3" '/^[^ ]/ { cur = index($0, img) > 0 } cur && /^  [1-5]\. class/ && ++n[img] <= k { print $3 }' "$1"
}
for model in lite0 lite1 lite2; do
  [ -f "$src/weights/efficientnet_$model.h5" ] || { echo "note: no $model weights, not checked"; continue; }
  out=$tmp/$model.txt
  "$bin" imagenet-top5 --backbone $model --set extract.weights_dir="$src/weights" \
    "$photos/grace_hopper.jpg" "$photos/chelsea.png" "$photos/coffee.png" "$photos/china.jpg" > "$out"
  cat "$out"
  check "$model: 4 blocks of 5 classes" same "$(grep -c '^  [1-5]\. class' "$out")" 20
  check "$model: grace_hopper top-1 652" same "$(classes "$out" grace_hopper 1)" 652
  check "$model: chelsea top-1 in {281,282,285}" grep -qxE '281|282|285' <(classes "$out" chelsea 1)
  check "$model: coffee top-1 in {967,968,504}" grep -qxE '967|968|504' <(classes "$out" coffee 1)
  check "$model: china 698 within top-5" grep -qx 698 <(classes "$out" china 5)
  check "$model: probabilities descending in (0,1]" awk '/class/ { p = substr($4, 3) + 0; if (p <= 0 || p > 1 || (NR > 1 && p > last + 1e-9 && $1 != "1.")) bad = 1; last = p } END { exit bad }' "$out"
done
rc=0; "$bin" imagenet-top5 --set extract.weights_dir="$src/weights" "$tmp/missing.jpg" > "$tmp/err.txt" 2>&1 || rc=$?
check "missing image: non-zero exit naming the file" grep -q "missing.jpg" "$tmp/err.txt"
exit $fail
