#!/usr/bin/env bash
# rel_security - no shell or exec from product code; outputs respect the
# umask (027 -> 0640, 022 -> 0644), nothing is world-writable; temporary
# files are made by mkstemp in the output's own directory and none is left.
set -uo pipefail
: "${ASSORT_SRC:?}" "${ASSORT_BUILD:?}" "${ASSORT_BIN:?}"
tool="$ASSORT_BUILD/tests/rel_tool"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# 1. No shell is ever invoked: no system/popen/exec* in src/ (a catalog string
#    can then never reach a shell). fork() alone (util/isolate.c) runs no program.
hits=$(grep -rnE '\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|posix_spawn|posix_spawnp)[[:space:]]*\(' \
  "$ASSORT_SRC/src" --include='*.c' --include='*.h' --include='*.cu' | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)')
[ -z "$hits" ] || bad "shell/exec calls in src/:"$'\n'"$hits"

# 2. Temporary outputs: mkstemp in the output's directory (fsutil), never tmpnam/tempnam/mktemp().
hits=$(grep -rnE '\b(tmpnam|tempnam|mktemp|tmpfile)[[:space:]]*\(' "$ASSORT_SRC/src" --include='*.c')
[ -z "$hits" ] || bad "unsafe temp-file calls in src/: $hits"
grep -q 'mkstemp' "$ASSORT_SRC/src/util/fsutil.c" || bad "fsutil.c does not use mkstemp"

# 3. Modes: umask respected, nothing world-writable.
for um in 027 022 077; do
  want=$(printf '%o' $((0666 & ~8#$um)))
  d="$tmp/u$um"
  mkdir "$d"
  (umask $um; "$tool" write-atomic "$d/out.txt" 100 >/dev/null) || bad "umask $um: atomic write failed"
  (umask $um; "$tool" catalog-write "$d/cat.h5" 2 >/dev/null) || bad "umask $um: catalog write failed"
  (umask $um; "$tool" catalog-write "$d/cat.h5" 3 >/dev/null) || bad "umask $um: catalog update failed"
  for f in out.txt cat.h5; do
    got=$(stat -c %a "$d/$f")
    [ "$got" = "$want" ] || bad "umask $um: $f has mode $got, expected $want"
  done
  left=$(ls -A "$d" | grep -vE '^(out.txt|cat.h5)$')
  [ -z "$left" ] || bad "umask $um: temporary files left: $left"
  echo "umask $um: out.txt $(stat -c %a "$d/out.txt"), cat.h5 $(stat -c %a "$d/cat.h5") (want $want)"
done
ww=$(find "$tmp" -type f -perm -o+w)
[ -z "$ww" ] || bad "world-writable outputs: $ww"

# 4. Image paths stay under the images root: covered through the library by
#    tests/unit/test_image_path.c; through `assort ingest` once that command exists.
if "$ASSORT_BIN" --help 2>&1 | grep -qw ingest; then
  echo "NOTE: assort ingest exists now; add its images-root checks here"
fi

[ $fails -eq 0 ] && echo "security: all checks passed"
[ $fails -eq 0 ]
