#!/usr/bin/env bash
# rel_diskfull - disk full while writing: on a 1 MiB tmpfs, an atomic write
# (fsutil: fs_write_atomic) and a catalog transaction (catalog_begin / write /
# commit) that do not fit fail with a message naming the file, the previous
# output stays byte-identical, and no temporary file is left behind.
# Skips (77) when tmpfs cannot be mounted here (not root, no CAP_SYS_ADMIN).
set -uo pipefail
: "${ASSORT_BUILD:?}"
tool="$ASSORT_BUILD/tests/rel_tool"
mnt=$(mktemp -d)
if ! mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null; then
  rmdir "$mnt"
  echo "SKIP: cannot mount a tmpfs here (needs root); the disk-full test did not run"
  exit 77
fi
trap 'umount "$mnt"; rmdir "$mnt"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# 1. fs_write_atomic
out="$mnt/out.txt"
"$tool" write-atomic "$out" 1000 >/dev/null || bad "a 1000-byte atomic write failed"
prev=/tmp/rel_prev_$$
cp "$out" "$prev"
prev=/tmp/rel_prev_$$
"$tool" write-atomic "$out" $((4 * 1024 * 1024)) >/dev/null 2>/tmp/rel_err_$$
rc=$?
err=$(cat /tmp/rel_err_$$); rm -f /tmp/rel_err_$$
[ $rc -ne 0 ] || bad "a 4 MiB atomic write on a 1 MiB disk succeeded"
[ $rc -lt 128 ] || bad "atomic write: killed by signal $((rc - 128))"
grep -qF "$out" <<<"$err" || bad "atomic write: message does not name $out: $err"
cmp -s "$out" "$prev" || bad "atomic write: the previous $out changed"
left=$(ls -A "$mnt" | grep -v '^out.txt$')
[ -z "$left" ] || bad "atomic write: left behind: $left"
echo "atomic write on a full disk: exit $rc: $err"
rm -f "$prev" "$out"

# 2. a catalog transaction
cat="$mnt/cat.h5"
"$tool" catalog-write "$cat" 4 >/dev/null || bad "a small catalog write failed"
cp "$cat" /tmp/rel_prevcat_$$
"$tool" catalog-write "$cat" 2000 >/dev/null 2>/tmp/rel_err_$$   # 8 MB of int32
rc=$?
err=$(cat /tmp/rel_err_$$); rm -f /tmp/rel_err_$$
[ $rc -ne 0 ] || bad "an 8 MB catalog write on a 1 MiB disk succeeded"
[ $rc -lt 128 ] || bad "catalog write: killed by signal $((rc - 128))"
grep -qF "$cat" <<<"$err" || bad "catalog write: message does not name $cat: $err"
cmp -s "$cat" /tmp/rel_prevcat_$$ || bad "catalog write: the previous catalog changed"
"$tool" open-catalog "$cat" >/dev/null || bad "the previous catalog no longer opens"
# (cat.h5.lock stays by design - lock.h - released and empty)
left=$(ls -A "$mnt" | grep -v -e '^cat.h5$' -e '^cat.h5.lock$')
[ -z "$left" ] || bad "catalog write: left behind: $left"
[ ! -s "$cat.lock" ] || bad "catalog write: the writer lock still names a holder: $(cat "$cat.lock")"
echo "catalog write on a full disk: exit $rc: $err"
rm -f /tmp/rel_prevcat_$$

[ $fails -eq 0 ] && echo "disk full: all checks passed"
[ $fails -eq 0 ]
