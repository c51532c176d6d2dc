#!/usr/bin/env bash
# gpu_build.sh - checks that need no GPU:
#  1. in a CUDA build, the GPU half is a module of its own (src/nn/gpu_module.h):
#     build/libassort_gpu.so holds the cuDNN backend, its kernels and the NCCL
#     communicator (nm: backbone_cudnn_ops, the kernel launchers, nccl_gpu_create,
#     and the cuDNN/cuBLAS/NCCL calls), exports assort_gpu_module, and its
#     embedded fat binary holds sm_90 machine code (cuobjdump --list-elf when
#     installed, else the .nv_fatbin section is parsed: entry kind 2 = ELF
#     cubin, its sm version); the assort binary itself needs no CUDA library;
#     every core symbol the module takes from the program is in gpu_module.c's
#     module_imports list and exported by assort;
#  2. the module is loaded on demand: a command that asks for no GPU never maps
#     it, `bench_gpu --device auto` does; a wrong ASSORT_GPU_MODULE (missing
#     file, a library that is not the module) is refused with exit 2 and a
#     message naming it;
#  3. without a CUDA device, `bench_gpu --device gpu` fails with exit code 2
#     (usage) and a message that says "no CUDA device" and the fix, before
#     touching any file; `--device auto` falls back to the CPU decision.
# In a build without CUDA, parts 1 and 2 check that there is no module and
# that --device gpu says the build has no CUDA.
set -euo pipefail
build=${ASSORT_BUILD:?}
bin=$build/bench/bench_gpu
assort=${ASSORT_BIN:?}
src=${ASSORT_SRC:?}
mod=$build/libassort_gpu.so
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
fail=0
syms=$(mktemp); fat=$(mktemp); dsyms=$(mktemp); trap 'rm -f "$syms" "$fat" "$dsyms"' EXIT
cuda_build=${ASSORT_CUDA_BUILD:?}
# (nm into a file: `nm | grep -q` under pipefail fails on SIGPIPE)
if [ $cuda_build -eq 1 ]; then
  [ -f "$mod" ] || { echo "FAIL: CUDA build but no $mod"; exit 1; }
  nm -C "$mod" > "$syms"
  for sym in backbone_cudnn_ops 'gk_depthwise(' 'gk_stem(' nccl_gpu_create ncclAllReduce \
             cudnnConvolutionForward cublasSgemm assort_gpu_module; do
    if grep -qF " $sym" "$syms"; then echo "ok: $sym in the module"
    else echo "FAIL: $sym not in $mod"; fail=1; fi
  done
  nm -D --defined-only "$mod" > "$dsyms"
  if grep -q ' assort_gpu_module$' "$dsyms"; then echo "ok: the module exports assort_gpu_module"
  else echo "FAIL: $mod does not export assort_gpu_module"; fail=1; fi
  readelf -d "$assort" > "$dsyms"
  if grep -E 'NEEDED.*lib(cudart|cublas|cublasLt|cudnn|nccl)\.' "$dsyms"; then
    echo "FAIL: $assort links a CUDA library itself (it must come with the module)"; fail=1
  else echo "ok: assort needs no CUDA library (NEEDED: $(grep -c NEEDED "$dsyms") libraries, none of CUDA)"; fi
  # the core symbols the module imports: each in module_imports and exported by assort
  imports=$(sed -n '/module_imports\[\] = {/,/};/p' "$src/src/nn/gpu_module.c" | grep -o 'gpu_import_fn)[a-z_0-9]*' | sed 's/.*)//')
  nm -D --defined-only "$assort" > "$dsyms"
  for u in $(nm -D --undefined-only "$mod" | awk '$1 == "U" && $2 !~ /@/ && $2 !~ /^nccl/ {print $2}'); do
    if ! grep -qx "$u" <<<"$imports"; then echo "FAIL: the module imports $u, which is not in module_imports (src/nn/gpu_module.c)"; fail=1
    elif ! grep -q " $u\$" "$dsyms"; then echo "FAIL: assort does not export $u, which the module imports"; fail=1
    else echo "ok: module import $u listed and exported"; fi
  done
  if command -v cuobjdump >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/cuobjdump ]; then
    cuo=$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)
    if "$cuo" --list-elf "$mod" | grep -q 'sm_90'; then echo "ok: cuobjdump lists sm_90 cubins"
    else echo "FAIL: cuobjdump shows no sm_90 cubin"; "$cuo" --list-elf "$mod" | head; fail=1; fi
  else
    objcopy -O binary --only-section=.nv_fatbin "$mod" "$fat"
    python3 - "$fat" <<'PY' || fail=1
import struct, sys
d = open(sys.argv[1], "rb").read()
off, elf, ptx = 0, [], []
while off + 16 <= len(d):
    magic, _ver, hs, size = struct.unpack_from("<IHHQ", d, off)
    if magic != 0xBA55ED50:
        off += 8  # fat binaries are 8-byte aligned in the section
        continue
    p, end = off + hs, off + hs + size
    while p + 32 <= end:
        kind, _u, ehs, payload = struct.unpack_from("<HHIQ", d, p)
        sm = struct.unpack_from("<I", d, p + 28)[0]
        (elf if kind == 2 else ptx).append(sm)
        p += ehs + payload
    off = end
print(f"fatbin: {len(elf)} cubin(s) sm {sorted(set(elf))}, {len(ptx)} PTX sm {sorted(set(ptx))}")
if 90 not in elf:
    print("FAIL: no sm_90 cubin in the module"); sys.exit(1)
print("ok: sm_90 cubins embedded")
PY
  fi

  # 2. loaded on demand
  if LD_DEBUG=files "$assort" config >/dev/null 2>"$dsyms" && ! grep -q 'libassort_gpu\|libcudart' "$dsyms"; then
    echo "ok: \`assort config\` maps neither the module nor CUDA"
  else echo "FAIL: \`assort config\` loaded the GPU module or CUDA (or failed)"; fail=1; fi
  set +e
  LD_DEBUG=files "$bin" --device auto --weights /nonexistent.h5 >/dev/null 2>"$dsyms"
  set -e
  if grep -q "file=$mod" "$dsyms"; then echo "ok: --device auto loads $mod"
  else echo "FAIL: --device auto did not load $mod"; fail=1; fi
  for case in "/nonexistent/libassort_gpu.so|no such file" "$(ldconfig -p | awk '/libm\.so\.6 .*x86-64/ {print $NF; exit}')|has no symbol assort_gpu_module"; do
    path=${case%%|*}; want=${case#*|}
    set +e
    out=$(ASSORT_GPU_MODULE=$path "$bin" --device gpu --weights /nonexistent.h5 --catalog /nonexistent.h5 2>&1); rc=$?
    set -e
    if [ $rc -eq 2 ] && grep -qF "$want" <<<"$out" && grep -qF "$path" <<<"$out"; then
      echo "ok: ASSORT_GPU_MODULE=$path -> exit 2, '$want'"
    else echo "FAIL: ASSORT_GPU_MODULE=$path -> exit $rc: $out"; fail=1; fi
  done
else
  echo "note: build without CUDA: no module to check"
  if [ -e "$mod" ]; then echo "FAIL: $mod exists in a build without CUDA"; fail=1; fi
  set +e
  out=$("$bin" --device gpu --weights /nonexistent.h5 --catalog /nonexistent.h5 2>&1); rc=$?
  set -e
  if [ $rc -eq 2 ] && grep -q 'this build has no CUDA' <<<"$out"; then echo "ok: --device gpu says the build has no CUDA"
  else echo "FAIL: --device gpu in a build without CUDA -> exit $rc: $out"; fail=1; fi
fi

# 3. --device gpu without a device
has_dev=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then has_dev=1; fi
if [ $has_dev -eq 1 ]; then
  echo "note: a GPU is present: the no-device refusal is not exercised here"
else
  set +e
  out=$("$bin" --device gpu --weights /nonexistent.h5 --catalog /nonexistent.h5 2>&1); rc=$?
  set -e
  echo "bench_gpu --device gpu -> exit $rc: $out"
  if [ $rc -ne 2 ]; then echo "FAIL: exit code $rc, expected 2 (usage)"; fail=1; fi
  if ! grep -q 'no CUDA device' <<<"$out" || ! grep -q -- '--device cpu' <<<"$out"; then
    echo "FAIL: the message does not say 'no CUDA device' and the fix"; fail=1
  fi
  set +e
  out=$("$bin" --device auto --weights /nonexistent.h5 2>&1); rc=$?
  set -e
  # auto falls back to the CPU and then fails on the missing weights (ST_DATA = 3), not on the device.
  if [ $rc -ne 3 ] || grep -q 'no CUDA device' <<<"$out"; then
    echo "FAIL: --device auto without a GPU: exit $rc: $out"; fail=1
  else echo "ok: --device auto falls back to the CPU (then stops on the missing weights, exit 3)"; fi
fi
[ $fail -eq 0 ] && echo "gpu_build: all checks passed"
exit $fail
