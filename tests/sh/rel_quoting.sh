#!/usr/bin/env bash
# rel_quoting.sh - Slurm and tool scripts quote every variable (issue 10):
#   1. shellcheck over slurm/*.sbatch, slurm/*.sh, the shell scripts in jobs/
#      and tools/ (found by their first line) with the quoting checks as
#      errors; slurm/ must also be clean at shellcheck's default level;
#   2. slurm/assort-job.sh runs `assort info` on a catalog whose path holds
#      spaces, quotes and `$(touch pwned)` (also in ASSORT_CONFIG and
#      ASSORT_SET): the command line shown is the one run, the file is found,
#      the config value arrives verbatim, and no `pwned` file appears anywhere.
# Skips (77) when shellcheck is missing (tools/setup-deps installs it).
set -euo pipefail
src=${ASSORT_SRC:?}
bin=${ASSORT_BIN:?}
command -v shellcheck > /dev/null || { echo "SKIP: shellcheck is not installed (tools/setup-deps)"; exit 77; }
fail=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi; }

# --- 1. shellcheck --------------------------------------------------------------
# SC2086 unquoted expansion, SC2046 unquoted $(...), SC2048/SC2068 unquoted $*/$@
# and arrays, SC2206/SC2207 splitting into arrays, SC2053 unquoted == pattern,
# SC2295 unquoted pattern in ${x#...}, SC2089/SC2090 quotes inside variables,
# SC2145 "$@" glued to a string, SC2027/SC2140 broken quote nesting, SC2231
# unquoted expansion in a for-loop glob.
quoting=SC2086,SC2046,SC2048,SC2068,SC2206,SC2207,SC2053,SC2295,SC2089,SC2090,SC2145,SC2027,SC2140,SC2231
files=()
for f in "$src"/slurm/*.sbatch "$src"/slurm/*.sh "$src"/jobs/* "$src"/tools/*; do
  [ -f "$f" ] || continue
  case "$f" in
    *.sbatch|*.sh) files+=("$f") ;;
    *) head -n 1 "$f" | grep -Eq '^#!.*(/|env )(ba)?sh( |$)' && files+=("$f") ;;
  esac
done
echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p') over ${#files[@]} scripts"
out=$(cd "$src" && shellcheck -x -f gcc --include="$quoting" "${files[@]}" 2>&1) || true
check "no quoting finding in slurm/, jobs/, tools/" test -z "$out"
[ -z "$out" ] || echo "$out" | head -30
out=$(cd "$src" && shellcheck -x -f gcc "$src"/slurm/*.sbatch "$src"/slurm/*.sh 2>&1) || true
check "slurm/ clean at shellcheck's default level" test -z "$out"
[ -z "$out" ] || echo "$out" | head -30
# the check can fail: a script with an unquoted variable is reported
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
printf '#!/bin/bash\nx=$1\nrm -f $x\n' > "$t/bad.sh"
check "shellcheck reports an unquoted variable (SC2086)" \
  bash -c "shellcheck -f gcc --include=$quoting '$t/bad.sh' | grep -q SC2086"

# --- 2. assort-job.sh with hostile paths ------------------------------------------
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck disable=SC2016  # the $(...) must stay literal: it is the attack
evil='dir with spaces/it'\''s "q" $(touch pwned) `touch pwned2`'
mkdir -p "$t/$evil" "$t/cwd"
cat="$t/$evil/my catalog \$(touch pwned3).h5"
cp "$src/tests/fuzz/catalog/seeds/catalog_tiny.h5" "$cat"
cfg="$t/$evil/conf \$HOME.yaml"
printf 'run:\n  threads: 1\n' > "$cfg"
name='exp $(touch pwned4) `touch pwned5` "q" it'\''s'
cd "$t/cwd"
for launch in none mpirun; do
  rc=0
  # shellcheck disable=SC1091
  ( ASSORT_BIN="$bin" ASSORT_LAUNCH=$launch ASSORT_CATALOG="$cat" ASSORT_CONFIG="$cfg" \
    ASSORT_SET="run.name=$name; run.seed=7" SLURM_NTASKS=1 SLURM_JOB_ID='' \
    bash -c 'set -euo pipefail; . "$1"; assort_job_init; assort_job info' _ "$src/slurm/assort-job.sh" ) \
    > "$t/out-$launch" 2> "$t/err-$launch" || rc=$?
  check "assort-job ($launch): exit 0" test "$rc" = 0
  check "assort-job ($launch): assort info read the catalog at the hostile path" \
    grep -qF "$cat" "$t/out-$launch"
  cmdline=$(sed -n 's/.*assort-job\[[^]]*\]: command: //p' "$t/err-$launch")
  check "assort-job ($launch): logged command re-parses to the same words" \
    bash -c 'eval "w=($1)"; [ "${w[-1]}" = "$2" ] && printf "%s\n" "${w[@]}" | grep -qxF "run.name=$3"' \
    _ "$cmdline" "$cat" "$name"
done
# dry run: the printed command, run through eval, gives back the exact words
out=$(ASSORT_BIN="$bin" ASSORT_LAUNCH=none ASSORT_CATALOG="$cat" ASSORT_DRY_RUN=1 \
      bash -c '. "$1"; assort_job extract' _ "$src/slurm/assort-job.sh" 2>/dev/null)
check "dry run: the catalog is one word" bash -c 'eval "w=($1)"; [ "${w[-1]}" = "$2" ]' _ "$out" "$cat"
# the config value arrived verbatim: `assort config` with the same ASSORT_SET
v=$(ASSORT_BIN="$bin" ASSORT_LAUNCH=none ASSORT_SET="run.name=$name" \
    bash -c '. "$1"; assort_job config' _ "$src/slurm/assort-job.sh" 2>/dev/null | sed -n 's/^  name: //p' | head -n 1)
# (YAML double-quoted with only \" escapes here, which JSON reads the same way)
check "ASSORT_SET value arrives verbatim ($v)" \
  python3 -c 'import json, sys; sys.exit(json.loads(sys.argv[1]) != sys.argv[2])' "$v" "$name"
check "no injected command ran (no pwned* file)" test -z "$(find "$t" / -xdev -maxdepth 1 -name 'pwned*' 2>/dev/null; find "$t" -name 'pwned*')"
echo "$([ $fail = 0 ] && echo passed || echo FAILED)"
exit $fail
