# extract_common.sh - sourced by the extract_*.sh tests: paths, helpers, skips.
set -euo pipefail
src=${ASSORT_SRC:?}
build=${ASSORT_BUILD:?}
bin=${ASSORT_BIN:?}
util=$build/tests/test_extract_util
mpiexec=${MPIEXEC:-mpirun --oversubscribe}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
skip() { echo "SKIP: $*"; exit 77; }
fail=0
check() {  # check DESCRIPTION COMMAND...: runs the command, counts a failure
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}
same() { [ "$1" = "$2" ] || { echo "  '$1' != '$2'"; return 1; }; }
weights=$src/weights/efficientnet_lite0.h5
if [ ! -f "$weights" ] && [ -x "$src/tools/import-weights" ] && [ -x "$src/.venv/bin/python" ]; then
  "$src/tools/import-weights" --model lite0 --out-dir "$src/weights" >&2 || true
fi
[ -f "$weights" ] || skip "no $weights (run tools/setup-deps, then tools/import-weights)"
[ -x "$util" ] || { echo "FAIL: $util not built"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/extract_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# assort extract with the test's weights folder
ax() { "$bin" extract "$@" --set extract.weights_dir="$src/weights" --device cpu; }
digest() { "$util" digest "$1" "/features/lite0/$2"; }
