# shellcheck shell=bash
# rel_common.sh - sourced by rel_kill.sh and rel_signals.sh: paths, skips,
# helpers, a small real catalog (demo sample of the shared fashion data:
# ingest + extract with Lite0) and `h5same`, an independent h5py comparison
# of two catalogs.
set -euo pipefail
src=${ASSORT_SRC:?}
bin=${ASSORT_BIN:?}
mpiexec=${MPIEXEC:-mpirun --oversubscribe}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
skip() { echo "SKIP: $*"; exit 77; }
py="$src/.venv/bin/python"
[ -x "$py" ] || skip "$py missing (run tools/setup-deps)"
shared=${ASSORT_SHARED:-$src/../shared}
[ -f "$shared/data/fashion/images.tar" ] || skip "$shared/data/fashion absent (set ASSORT_SHARED)"
[ -f "$src/weights/efficientnet_lite0.h5" ] || skip "no $src/weights/efficientnet_lite0.h5 (run tools/import-weights)"
fail=0
check() {  # check DESCRIPTION COMMAND...: runs the command, counts a failure
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}
same() { [ "$1" = "$2" ] || { echo "  '$1' != '$2'"; return 1; }; }
sha() { sha256sum < "$1"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rel_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Settings every run shares (the config hash is part of train's resume key).
sets=(--set run.threads=1 --set "extract.weights_dir=$src/weights" --set extract.device=cpu
      --set extract.batch=4 --set extract.commit_every=1 --set train.epochs=4 --set train.batch=16 --set train.min_class_count=5
      --set similarity.k=5 --set similarity.block=16)
# mx N STAGE ARGS...: assort STAGE on N ranks with the shared settings.
mx() { local n=$1 stage=$2; shift 2; $mpiexec -n "$n" "$bin" "$stage" "${sets[@]}" "$@"; }

# must LOG COMMAND...: runs it with output in LOG; on failure shows LOG and stops.
must() { local log=$1; shift; "$@" > "$log" 2>&1 || { tail -20 "$log"; echo "FAILED: $*"; exit 1; }; }

# make_base N: $tmp/demo (N products), $tmp/ingested.h5 and $tmp/base.h5 (extracted).
make_base() {
  ASSORT_SHARED="$shared" "$src/tools/make-demo-data" "$tmp/demo" "$1" > /dev/null
  must "$tmp/base-ingest.log" mx 2 ingest --csv "$tmp/demo/catalog.csv" --images "$tmp/demo" "$tmp/ingested.h5"
  cp "$tmp/ingested.h5" "$tmp/base.h5"
  must "$tmp/base-extract.log" mx 2 extract "$tmp/base.h5"
}

# make_refs: the uninterrupted references of the later stages, each from the
# previous one's output: $tmp/ref_train.h5, $tmp/ref_sim.h5, $tmp/ref_cls/c.h5
# (classify's exports land beside it).
make_refs() {
  cp "$tmp/base.h5" "$tmp/ref_train.h5"
  must "$tmp/ref_train.log" mx 2 train "$tmp/ref_train.h5"
  cp "$tmp/ref_train.h5" "$tmp/ref_sim.h5"
  must "$tmp/ref_sim.log" mx 2 similarity "$tmp/ref_sim.h5"
  mkdir -p "$tmp/ref_cls" && cp "$tmp/ref_sim.h5" "$tmp/ref_cls/c.h5"
  must "$tmp/ref_cls.log" mx 2 classify "$tmp/ref_cls/c.h5"
}

# h5same A B: every group, dataset and attribute of catalog A equals B's, byte
# for byte, except what differs between any two runs: run ids (group names and
# values are mapped to their rank among the file's run ids, so an extra run
# still shows), the catalog's own path (in the stored config; config_hash is
# skipped for that reason, the config text itself is compared),
# creation/start/finish times, timings and /runs/*/metrics_json (holds
# seconds). Prints the differences. Knobs (environment, for documented
# exceptions): H5SAME_ONLY=REGEX compares only objects whose path matches;
# H5SAME_IGNORE_ATTRS=REGEX skips more attributes; H5SAME_DROP_INCOMPLETE_RUNS=1
# leaves out /runs/<id> groups not marked complete (an interrupted attempt's).
h5same() {
  "$py" - "$1" "$2" <<'PY'
import os, re, sys
import h5py, numpy as np
RUN = re.compile(rb"\d{8}-\d{6}-[a-z_]+-[0-9a-f]{4}")
SKIP_ATTR = re.compile(r"^(created|started|finished|wall_seconds|time_.*|seconds.*|config_hash)$")
MORE = os.environ.get("H5SAME_IGNORE_ATTRS")
ONLY = os.environ.get("H5SAME_ONLY")
DROP = os.environ.get("H5SAME_DROP_INCOMPLETE_RUNS") == "1"
def load(path):
    out, ids = {}, set()
    f = h5py.File(path, "r")
    me = os.path.abspath(path).encode()
    def dropped(name):
        m = re.match(r"runs/([^/]+)", name)
        return DROP and m is not None and "complete" not in f["runs/" + m.group(1)].attrs
    def names(name, obj):
        if not dropped(name): ids.update(RUN.findall(name.encode()))
    f.visititems(names)
    # Run ids are <date>-<time>-<command>-<random>: name each one by its command
    # and its place among that command's runs in time order, so two runs of
    # different commands started in the same second compare alike.
    canon, seen = {}, {}
    for rid in sorted(ids, key=lambda r: (r[:15], r[16:-5], r[-4:])):
        cmd = rid[16:-5]
        seen[cmd] = seen.get(cmd, 0) + 1
        canon[rid] = b"RUN-%s-%d" % (cmd, seen[cmd])
    def norm(b):
        b = b.replace(me, b"<CATALOG>")
        return RUN.sub(lambda m: canon.get(m.group(0), b"RUN?"), b)
    def val(v):
        if isinstance(v, (bytes, np.bytes_)): return norm(bytes(v))
        if isinstance(v, str): return norm(v.encode())
        a = np.asarray(v)
        if a.dtype.kind in "SO":
            return [val(x) for x in a.ravel()]
        return (a.dtype.str, a.shape, a.tobytes())
    def attrs(obj):
        return {k: val(obj.attrs[k]) for k in obj.attrs
                if not SKIP_ATTR.match(k) and not (MORE and re.match(MORE, k))}
    out["/"] = ("group", attrs(f))
    def visit(name, obj):
        if dropped(name) or (ONLY and not re.match(ONLY, name)): return
        key = norm(name.encode()).decode()
        if isinstance(obj, h5py.Dataset):
            if re.match(r"runs/[^/]+/metrics_json$", name):  # string length varies too
                out[key] = ("dataset", "(skipped)", (), "(skipped)", attrs(obj))
            else:
                out[key] = ("dataset", obj.dtype.str, obj.shape, val(obj[()]), attrs(obj))
        else:
            out[key] = ("group", attrs(obj))
    f.visititems(visit)
    f.close()
    return out, len(ids)
a, na = load(sys.argv[1])
b, nb = load(sys.argv[2])
diffs = []
if na != nb and not ONLY: diffs.append(f"run ids: {na} vs {nb}")
for k in sorted(set(a) | set(b)):
    if k not in a: diffs.append(f"only in B: {k}")
    elif k not in b: diffs.append(f"only in A: {k}")
    elif a[k] != b[k]:
        x, y = a[k], b[k]
        if x[0] == "group" or x[-1] != y[-1]:
            diffs.append(f"attributes differ: {k}")
        if x[0] == "dataset" and x[:4] != y[:4]:
            diffs.append(f"data differ: {k}")
for d in diffs[:20]: print("  " + d)
if len(diffs) > 20: print(f"  ... {len(diffs)} differences")
sys.exit(1 if diffs else 0)
PY
}

# h5attr FILE OBJECT ATTR: prints the attribute's value (h5py), or MISSING.
h5attr() {
  "$py" -c 'import sys, h5py
a = h5py.File(sys.argv[1], "r")[sys.argv[2]].attrs
print(a[sys.argv[3]] if sys.argv[3] in a else "MISSING")' "$@"
}

# readable CAT: `assort info` opens it and every group marked complete in it
# still has its datasets readable (h5py reads them all).
readable() {
  "$bin" info "$1" > /dev/null 2>&1 || { echo "  assort info failed on $1"; return 1; }
  "$py" - "$1" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    def rd(name, obj):
        if isinstance(obj, h5py.Dataset): obj[()]
    f.visititems(rd)
PY
}

# killed DESCRIPTION RC T0 T1 LIMIT: the job ended non-zero, by MPI noticing the
# dead rank (not by the outer timeout), within LIMIT seconds.
killed() {
  local what=$1 rc=$2 el=$(( $4 - $3 )) limit=$5
  check "$what: job ends non-zero (exit $rc)" test "$rc" -ne 0
  check "$what: ended by MPI, not the timeout ($el s <= $limit s)" test "$rc" -ne 124 -a "$el" -le "$limit"
}
