#!/usr/bin/env python3
"""bench_names.py - RapidFuzz peer for bench_names: process.cdist with
fuzz.ratio (normalised Indel similarity, 0-100) over the same normalised
names. Q query names (default all) against all N names, W workers (default
-1 = all cores). Every Q x N pair is scored (the full matrix is returned).
Prints RAPIDFUZZ_PAIRS_PER_S (pairs scored per second).
  bench_names.py NAMES.txt [Q] [W]"""
import sys
import time

import numpy as np
from rapidfuzz import __version__, fuzz, process

names = open(sys.argv[1], encoding="utf-8").read().split("\n")[:-1]
q = int(sys.argv[2]) if len(sys.argv) > 2 else len(names)
w = int(sys.argv[3]) if len(sys.argv) > 3 else -1
t0 = time.perf_counter()
m = process.cdist(names[:q], names, scorer=fuzz.ratio, workers=w, dtype=np.uint8)
t = time.perf_counter() - t0
pairs = q * len(names)
print(f"rapidfuzz {__version__} cdist(fuzz.ratio, workers={w}) {q} x {len(names)}: {t:.2f} s, "
      f"{pairs / t:.3g} pairs/s, matrix {m.nbytes / 2**20:.0f} MiB")
print(f"RAPIDFUZZ_PAIRS_PER_S {pairs / t:.6g}")
