#!/usr/bin/env bash
# rel_corrupt - truncated and bit-flipped catalogs and weights files give a
# clear error (exit 3, one line naming the file), never a crash or a hang.
#   catalog: `assort info` and catalog_open (rel_tool open-catalog) on copies
#            of a real small catalog (made here with the catalog API through
#            rel_tool catalog-write, plus the committed fuzz seed) cut at
#            several sizes and with one byte flipped at many offsets.
#   weights: effnet_load (rel_tool open-weights) on the committed tiny
#            weights file, truncated and flipped the same way.
# A flip in bytes HDF5 never reads may leave the file valid: exit 0 is
# accepted there, but it must then still open; anything else than 0 or 3,
# a signal or the 30 s timeout fails the test.
# REL_CORRUPT_FLIPS / REL_CORRUPT_WFLIPS: flipped offsets per catalog (25) and in
# the weights file (60); tools/run-tests' sanitizer pass uses fewer (every cut
# still runs) to keep the ASan run within CI's time.
set -uo pipefail
flips=${REL_CORRUPT_FLIPS:-25} wflips=${REL_CORRUPT_WFLIPS:-60}
: "${ASSORT_BIN:?}" "${ASSORT_SRC:?}" "${ASSORT_BUILD:?}"
tool="$ASSORT_BUILD/tests/rel_tool"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 cases=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# Runs CMD on FILE; asserts exit 0 or 3 (3 required when $strict), a message
# naming the file on failure, no signal, no timeout.
check() { # label strict file cmd...
  local label=$1 strict=$2 file=$3; shift 3
  cases=$((cases + 1))
  timeout 30 "$@" "$file" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -eq 124 ]; then bad "$label: hung (> 30 s)"; return; fi
  if [ $rc -ge 128 ]; then bad "$label: killed by signal $((rc - 128))"; sed 's/^/    /' "$tmp/err" | tail -5; return; fi
  if [ $rc -eq 0 ] && [ "$strict" = 0 ]; then return; fi
  if [ $rc -ne 3 ]; then bad "$label: exit $rc, expected 3"; sed 's/^/    /' "$tmp/err" | tail -3; return; fi
  grep -qF "$file" "$tmp/err" || bad "$label: message does not name the file: $(head -c 300 "$tmp/err")"
  grep -q "HDF5-DIAG" "$tmp/err" && bad "$label: HDF5's own error stack printed on stderr"
}

flip() { # file offset -> xor the byte with 0xff in place
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((b ^ 0xff)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# A real small catalog, written through a catalog transaction.
cat_src="$tmp/cat.h5"
"$tool" catalog-write "$cat_src" 3 >/dev/null || { echo "FAIL: could not make a catalog"; exit 1; }
"$ASSORT_BIN" info "$cat_src" >/dev/null || { echo "FAIL: assort info on the intact catalog"; exit 1; }
seed_cat="$ASSORT_SRC/tests/fuzz/catalog/seeds/catalog_tiny.h5"
weights="$ASSORT_SRC/tests/fuzz/weights/seeds/weights_tiny.h5"
"$tool" open-weights "$weights" >/dev/null || { echo "FAIL: the intact weights file does not load"; exit 1; }

for src in "$cat_src" "$seed_cat"; do
  size=$(stat -c %s "$src")
  tag=$(basename "$src" .h5)
  for cut in 0 8 96 512 2048 $((size / 2)) $((size - 1)); do
    f="$tmp/${tag}_cut$cut.h5"
    head -c "$cut" "$src" >"$f"
    check "info $tag cut at $cut" 1 "$f" "$ASSORT_BIN" info
    check "catalog_open $tag cut at $cut" 1 "$f" "$tool" open-catalog
  done
  step=$((size / flips))
  for ((off = 0; off < size; off += step)); do
    f="$tmp/${tag}_flip$off.h5"
    cp "$src" "$f"
    flip "$f" "$off"
    check "info $tag flip at $off" 0 "$f" "$ASSORT_BIN" info
    check "catalog_open $tag flip at $off" 0 "$f" "$tool" open-catalog
  done
done

size=$(stat -c %s "$weights")
for cut in 0 8 96 512 2048 $((size / 2)) $((size - 1)); do
  f="$tmp/weights_cut$cut.h5"
  head -c "$cut" "$weights" >"$f"
  check "effnet_load cut at $cut" 1 "$f" "$tool" open-weights
done
step=$((size / wflips))
for ((off = 0; off < size; off += step)); do
  f="$tmp/weights_flip$off.h5"
  cp "$weights" "$f"
  flip "$f" "$off"
  check "effnet_load flip at $off" 0 "$f" "$tool" open-weights
done
# The committed reproducer of the HDF5 crash (isolate.h): refused, no crash.
check "effnet_load HDF5 heap overread reproducer" 1 \
  "$ASSORT_SRC/tests/fuzz/weights/crashes/hdf5_h5hg_read_overread.h5" "$tool" open-weights

echo "$cases cases, $fails failed"
[ $fails -eq 0 ]
