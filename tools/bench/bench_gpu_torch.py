#!/usr/bin/env python3
"""bench_gpu_torch.py - the PyTorch peer of build/bench/bench_gpu: the same EfficientNet-Lite
network built from the same assort weights file (docs/weights-format.md), on the same GPU,
end to end from the same HDF5 file (/images/pixels, uint8 NHWC), in two modes:
  eager     channels_last + torch.autocast(bf16 or fp16)
  compile   the same module through torch.compile (default mode)

    bench_gpu_torch.py --weights W.h5 --catalog C.h5 [--batch 256] [--iters 20]
                       [--precision bf16] [--modes eager,compile] [--json OUT.json] [--check]

Like bench_gpu: a reader thread reads batch i+1 from the file into a pinned tensor while
the GPU computes batch i; the pixels are uploaded as uint8 and normalised on the GPU; the
pooled features (N, 1280) come back to host memory as float32 every batch. One warm-up
batch (plus the compilation, for compile) is not timed.

--check first compares this module's fp32 features with tools/ref/effnet_ref.py (the
independent numpy float64 reference) on 2 generated images: max abs diff <= 1e-3, or exit 1,
so the figures are known to come from the same network.
TF SAME padding: stride-2 convolutions get an explicit F.pad (0 before / 1 after on even
sides), like the C backends; stride 1 uses the conv's symmetric padding.
"""

import argparse
import json
import os
import sys
import threading
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def same_pad_amounts(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class Conv(torch.nn.Module):
    """KxK conv with TF SAME padding for a known input side, + optional ReLU6."""

    def __init__(self, w_ohwi, b, stride, groups, side, relu6):
        super().__init__()
        w = torch.from_numpy(np.ascontiguousarray(w_ohwi.transpose(0, 3, 1, 2)))  # OIHW
        self.weight = torch.nn.Parameter(w, requires_grad=False)
        self.bias = torch.nn.Parameter(torch.from_numpy(b), requires_grad=False)
        k = w.shape[2]
        self.stride, self.groups, self.relu6 = stride, groups, relu6
        lo, hi = same_pad_amounts(side, k, stride)
        self.sym = lo if lo == hi else 0
        self.pad = None if lo == hi else (lo, hi, lo, hi)  # (left, right, top, bottom)
        self.out_side = -(-side // stride)

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = F.conv2d(x, self.weight, self.bias, self.stride, self.sym, 1, self.groups)
        return F.relu6(x) if self.relu6 else x


class Block(torch.nn.Module):
    def __init__(self, g, side):
        super().__init__()
        a = {k: int(v) for k, v in g.attrs.items()}
        self.residual = bool(a["residual"])
        arr = lambda p: np.asarray(g[p], dtype=np.float32)  # noqa: E731
        self.expand = Conv(arr("expand/weight"), arr("expand/bias"), 1, 1, side, True) \
            if "expand" in g else None
        c = arr("depthwise/weight").shape[0]
        self.dw = Conv(arr("depthwise/weight"), arr("depthwise/bias"), a["stride"], c, side, True)
        self.project = Conv(arr("project/weight"), arr("project/bias"), 1, 1, self.dw.out_side, False)
        self.out_side = self.dw.out_side

    def forward(self, x):
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.dw(y))
        return y + x if self.residual else y


class LiteNet(torch.nn.Module):
    """uint8 (N, S, S, 3) NHWC pixels -> pooled features (N, F) float32."""

    def __init__(self, path):
        super().__init__()
        with h5py.File(path, "r") as f:
            a = f.attrs
            assert a["format"] == "assort-weights" and int(a["format_version"]) == 1, path
            self.image_size = s = int(a["image_size"])
            mean = np.asarray(a["input_mean"], np.float32)
            std = np.asarray(a["input_std"], np.float32)
            self.register_buffer("mean", torch.from_numpy(mean).view(1, 3, 1, 1))
            self.register_buffer("inv_std", torch.from_numpy(1.0 / std).view(1, 3, 1, 1))
            arr = lambda p: np.asarray(f[p], dtype=np.float32)  # noqa: E731
            self.stem = Conv(arr("stem/weight"), arr("stem/bias"), int(f["stem"].attrs["stride"]),
                             1, s, True)
            side = self.stem.out_side
            blocks = []
            for i in range(int(a["num_blocks"])):
                b = Block(f[f"blocks/{i:02d}"], side)
                side = b.out_side
                blocks.append(b)
            self.blocks = torch.nn.Sequential(*blocks)
            self.head = Conv(arr("head/weight"), arr("head/bias"), 1, 1, side, True)

    def forward(self, px_u8):
        x = px_u8.permute(0, 3, 1, 2).float()  # NCHW view of NHWC storage = channels_last
        x = (x - self.mean) * self.inv_std
        x = self.head(self.blocks(self.stem(x)))
        return x.float().mean(dim=(2, 3))


def check_against_reference(weights, device):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "ref"))
    import effnet_ref  # the independent numpy network
    ref_model = effnet_ref.Model(weights)
    s = ref_model.image_size
    rng = np.random.default_rng(5)
    px = rng.integers(0, 256, size=(2, s, s, 3), dtype=np.uint8)
    ref, _ = effnet_ref.forward(ref_model, px)
    net = LiteNet(weights).to(device).to(memory_format=torch.channels_last).eval()
    with torch.no_grad():
        got = net(torch.from_numpy(px).to(device)).cpu().numpy()
    d = float(np.abs(got - ref).max())
    print(f"check: torch fp32 vs numpy float64 reference, 2 images: max abs diff {d:.3g}")
    if not d <= 1e-3:
        print("FAIL: the torch network does not match the reference")
        sys.exit(1)


def run(net, dset, batch, iters, amp_dtype, device):
    rows = dset.shape[0]
    bufs = [torch.empty((batch,) + tuple(dset.shape[1:]), dtype=torch.uint8).pin_memory()
            for _ in range(2)]
    ready = [threading.Event(), threading.Event()]
    free = [threading.Event(), threading.Event()]
    for e in free:
        e.set()
    total = iters + 1

    def reader():
        for it in range(total):
            k = it & 1
            free[k].wait()
            free[k].clear()
            first = (it * batch) % (rows - batch + 1)
            dset.read_direct(bufs[k].numpy(), np.s_[first:first + batch])
            ready[k].set()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    t0 = None
    with torch.no_grad(), torch.autocast("cuda", dtype=amp_dtype):
        for it in range(total):
            k = it & 1
            ready[k].wait()
            ready[k].clear()
            if it == 1:
                torch.cuda.synchronize()
                t0 = time.perf_counter()
            x = bufs[k].to(device, non_blocking=True)
            feats = net(x).float().cpu()  # synchronises: the slot may be refilled after this
            free[k].set()
    th.join()
    e2e = iters * batch / (time.perf_counter() - t0)
    # the network alone on a resident batch
    x = bufs[0].to(device)
    with torch.no_grad(), torch.autocast("cuda", dtype=amp_dtype):
        net(x)
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(iters):
            feats = net(x)
        torch.cuda.synchronize()
    alone = iters * batch / (time.perf_counter() - t)
    assert torch.isfinite(feats.float()).all()
    return e2e, alone


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default="weights/efficientnet_lite0.h5")
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--precision", default="bf16", choices=["bf16", "fp16"])
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--json")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    if a.check:
        check_against_reference(a.weights, device)
    amp = torch.bfloat16 if a.precision == "bf16" else torch.float16
    net = LiteNet(a.weights).to(device).to(memory_format=torch.channels_last).eval()
    results = []
    with h5py.File(a.catalog, "r") as f:
        dset = f["/images/pixels"]
        for mode in a.modes.split(","):
            m = torch.compile(net) if mode == "compile" else net
            t = time.perf_counter()
            e2e, alone = run(m, dset, a.batch, a.iters, amp, device)
            r = {"impl": f"torch-{mode}", "precision": a.precision, "batch": a.batch,
                 "iters": a.iters, "e2e_images_per_s": round(e2e, 1),
                 "backbone_images_per_s": round(alone, 1),
                 "seconds_incl_warmup": round(time.perf_counter() - t, 1),
                 "device": torch.cuda.get_device_name(), "torch": torch.__version__}
            print(f"bench_gpu_torch: {mode}: end-to-end {e2e:.0f} images/s; network alone "
                  f"{alone:.0f} images/s", flush=True)
            results.append(r)
    if a.json:
        with open(a.json, "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
