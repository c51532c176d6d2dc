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
  for f in out.txt cat.h5 cat.h5.lock; do # (the writer lock stays: lock.h)
    got=$(stat -c %a "$d/$f")
    [ "$got" = "$want" ] || bad "umask $um: $f has mode $got, expected $want"
  done
  left=$(ls -A "$d" | grep -vE '^(out.txt|cat.h5|cat.h5.lock)$')
  [ -z "$left" ] || bad "umask $um: temporary files left: $left"
  echo "umask $um: out.txt $(stat -c %a "$d/out.txt"), cat.h5 $(stat -c %a "$d/cat.h5") (want $want)"
done
ww=$(find "$tmp" -type f -perm -o+w)
[ -z "$ww" ] || bad "world-writable outputs: $ww"

# 4. Image paths from the CSV stay under the images root (`assort ingest`):
#    '..' escapes, absolute paths and a symlink leading out are rejected with
#    safepath's reasons (rejects CSV); the one good row is ingested.
img="$ASSORT_SRC/tests/fuzz/image/seeds/fashion_1163.jpg"
mkdir -p "$tmp/ing/images/sub" "$tmp/ing/outside"
cp "$img" "$tmp/ing/images/good.jpg"
cp "$img" "$tmp/ing/outside/secret.jpg"
ln -s ../outside/secret.jpg "$tmp/ing/images/link.jpg"
ln -s ../../outside "$tmp/ing/images/sub/dirlink"
cat >"$tmp/ing/products.csv" <<EOF_CSV
id,name,master_category,image
1,good,Apparel,good.jpg
2,dotdot,Apparel,../outside/secret.jpg
3,deep,Apparel,sub/../../outside/secret.jpg
4,absolute,Apparel,$tmp/ing/outside/secret.jpg
5,symlink,Apparel,link.jpg
6,dirlink,Apparel,sub/dirlink/secret.jpg
EOF_CSV
(cd "$tmp/ing" && "$ASSORT_BIN" ingest --csv products.csv --images images \
   --set ingest.levels=[master_category] --set ingest.keep_columns=[] --set ingest.image_size=32 \
   --set ingest.max_reject_ratio=1 cat.h5 >"$tmp/ing/out" 2>&1)
rc=$?
[ $rc -eq 0 ] || { bad "ingest exit $rc"; tail -5 "$tmp/ing/out"; }
rej="$tmp/ing/cat.h5.rejects.csv"
if [ -f "$rej" ]; then
  for want in "3,path escapes the images root" "4,path escapes the images root" \
              "5,absolute image path" "6,path escapes the images root" "7,path escapes the images root"; do
    line=${want%%,*} reason=${want#*,}
    # rejects CSV: line,id,path,reason (physical CSV lines: the header is line 1)
    grep -E "^$line,[^,]*,.*,\"?$reason" "$rej" >/dev/null ||
      bad "images root: CSV line $line not rejected with '$reason': $(grep "^$line," "$rej")"
  done
  n=$(($(wc -l <"$rej") - 1))
  [ "$n" -eq 5 ] || bad "images root: $n rejects, expected 5"
  echo "images root: $(tail -n +2 "$rej" | cut -d, -f1,4 | tr '\n' ' ')"
else
  bad "no rejects CSV at $rej"
fi
grep -q "1 accepted" "$tmp/ing/out" || bad "images root: the good row was not the only one accepted: $(cat "$tmp/ing/out")"

[ $fails -eq 0 ] && echo "security: all checks passed"
[ $fails -eq 0 ]
