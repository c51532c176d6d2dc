#!/usr/bin/env bash
# rel_fuzz - CI's fuzz pass: every libFuzzer target for ASSORT_FUZZ_SECONDS
# (default 60) seconds, two at a time (tools/fuzz). Skips (77) when clang with
# libFuzzer is not available. Fails on any crash, hang, leak or sanitizer
# report; the summary table is printed either way. Label: fuzz.
set -uo pipefail
: "${ASSORT_SRC:?}"
if [ "${ASSORT_SANITIZE:-0}" = 1 ]; then
  echo "SKIP: tools/fuzz makes its own instrumented build; it runs from the normal build's ctest"
  exit 77
fi
"$ASSORT_SRC/tools/fuzz" --seconds "${ASSORT_FUZZ_SECONDS:-60}" --jobs 2
