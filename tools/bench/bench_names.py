#!/usr/bin/env python3
"""bench_names.py - RapidFuzz peer for bench_names: process.cdist with
fuzz.ratio (normalised Indel similarity, 0-100) over the same normalised
names, all workers. Q query names (default all) against all N names.
Prints RAPIDFUZZ_PAIRS_PER_S."""
import sys
import time

import numpy as np
from rapidfuzz import fuzz, process

names = open(sys.argv[1], encoding="utf-8").read().split("\n")[:-1]
q = int(sys.argv[2]) if len(sys.argv) > 2 else len(names)
t0 = time.perf_counter()
m = process.cdist(names[:q], names, scorer=fuzz.ratio, workers=-1, dtype=np.uint8)
t = time.perf_counter() - t0
pairs = q * len(names)
print(f"rapidfuzz cdist(fuzz.ratio) {q} x {len(names)}: {t:.2f} s, {pairs / t:.3g} pairs/s, "
      f"matrix {m.nbytes / 2**20:.0f} MiB")
print(f"RAPIDFUZZ_PAIRS_PER_S {pairs / t:.6g}")
