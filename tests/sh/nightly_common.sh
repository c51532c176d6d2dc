# nightly_common.sh - sourced by tests/sh/nightly_slurm*.sh: skips, data, h5 helpers.
# shellcheck shell=bash
# shellcheck source=tests/sh/slurm_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/slurm_common.sh"
: "${ASSORT_BIN:?}"
py=$ASSORT_SRC/.venv/bin/python
skip() { echo "SKIP: $*"; exit 77; }
for st in ingest extract train similarity classify; do
  "$ASSORT_BIN" "$st" --help >/dev/null 2>&1 || skip "assort $st is not in this build (its branch has not landed)"
done
weights=$ASSORT_SRC/weights/efficientnet_lite0.h5
if [ ! -f "$weights" ] && [ -x "$py" ]; then
  "$ASSORT_SRC/tools/import-weights" --model lite0 --out-dir "$ASSORT_SRC/weights" >&2 || true
fi
[ -f "$weights" ] || skip "no $weights (run tools/setup-deps, then tools/import-weights)"
if ! { [ -x "$py" ] && "$py" -c 'import h5py' 2>/dev/null; }; then
  skip "no $py with h5py (run tools/setup-deps)"
fi
shared=${ASSORT_SHARED:-$ASSORT_SRC/../shared}
[ -f "$shared/data/fashion/images.tar" ] || skip "no $shared/data/fashion (the shared data set)"
export ASSORT_SHARED=$shared

# write_config FILE: a small, fast config for the test catalog.
write_config() {
  cat > "$1" <<YAML
run:
  seed: 7
ingest:
  image_size: 224
extract:
  weights_dir: "$ASSORT_SRC/weights"
  device: cpu
  batch: 16
  commit_every: 2
train:
  epochs: 4
  head: linear
YAML
}

# h5 EXPR...: runs python with h5py, `f` the catalog ($CAT) open read-only; prints each
# EXPR's value, one per line (an EXPR may start with statements separated by "; ").
h5() { "$py" - "$CAT" "$@" <<'PY'
import sys, json, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
def s(x): return x.decode() if isinstance(x, bytes) else str(x)
def runs(cmd):
    out = []
    for k in sorted(f["/runs"]):
        g = f["/runs"][k]
        if s(g.attrs["command"]) == cmd and int(g.attrs.get("complete", 0)) == 1:
            out.append((k, json.loads(s(g["metrics_json"][()]))))
    return out
def complete(group):
    return [k for k in sorted(f[group]) if int(f[group][k].attrs.get("complete", 0)) == 1] if group in f else []
for expr in sys.argv[2:]:  # "stmt; stmt; expr": the statements run, the last expression prints
    *stmts, last = expr.split("; ")
    for st in stmts:
        exec(st)
    print(eval(last))
PY
}
