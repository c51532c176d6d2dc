#!/usr/bin/env python3
"""bench_backbone_ort.py - the peer for build/bench/bench_backbone: the same EfficientNet-Lite
network built with the `onnx` package from the same weights file (NCHW, TF SAME padding as
explicit asymmetric pads, depthwise as group convolution), run by ONNX Runtime on the CPU.

    bench_backbone_ort.py --weights weights/efficientnet_lite0.h5 [--batch 32] [--iters 5]
                          [--threads 2] [--no-spin] [--check-pixels px.npy --check-features f.npy]

Prints images/s (features only, batch `--batch`, intra-op threads `--threads`) and the process
CPU time per image (with --no-spin the intra-op threads sleep instead of spinning, so that CPU
time is work, not waiting). With
--check-* it also runs the pixels and reports max |features - C features| (cross-check).
Installed by tools/setup-deps --bench (onnx, onnxruntime). Beside the product, never in it.
"""
import argparse
import time

import h5py
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def build(path):
    f = h5py.File(path, "r")
    a = f.attrs
    S = int(a["image_size"])
    nodes, inits = [], []
    n = [0]

    def name(p):
        n[0] += 1
        return f"{p}{n[0]}"

    def const(arr, p):
        t = numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name(p))
        inits.append(t)
        return t.name

    def conv(x, grp, size, stride, depthwise, relu):
        w = np.asarray(f[grp + "/weight"])  # OHWI
        b = np.asarray(f[grp + "/bias"])
        k = w.shape[1]
        out, p0, p1 = same_pads(size, k, stride)
        wt = w.transpose(0, 3, 1, 2)  # OIHW (depthwise: (C, 1, K, K))
        y = name("conv")
        nodes.append(helper.make_node("Conv", [x, const(wt, "w"), const(b, "b")], [y],
                                      kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[p0, p0, p1, p1], group=w.shape[0] if depthwise else 1))
        if relu:
            z = name("relu6")
            nodes.append(helper.make_node("Clip", [y, const(np.float32(0), "lo"),
                                                   const(np.float32(6), "hi")], [z]))
            y = z
        return y, out

    # input: (B, S, S, 3) uint8 -> float NCHW normalised
    x = "pixels"
    xf = name("cast")
    nodes.append(helper.make_node("Cast", [x], [xf], to=TensorProto.FLOAT))
    xn = name("norm")
    mean = np.asarray(a["input_mean"], np.float32).reshape(1, 1, 1, 3)
    std = np.asarray(a["input_std"], np.float32).reshape(1, 1, 1, 3)
    t = name("sub")
    nodes.append(helper.make_node("Sub", [xf, const(mean, "mean")], [t]))
    nodes.append(helper.make_node("Div", [t, const(std, "std")], [xn]))
    xc = name("nchw")
    nodes.append(helper.make_node("Transpose", [xn], [xc], perm=[0, 3, 1, 2]))
    y, size = conv(xc, "stem", S, 2, False, True)
    for i in range(int(a["num_blocks"])):
        g = f[f"blocks/{i:02d}"]
        ba = {k: int(v) for k, v in g.attrs.items()}
        inp = y
        if "expand" in g:
            y, _ = conv(y, g.name + "/expand", size, 1, False, True)
        y, size = conv(y, g.name + "/depthwise", size, ba["stride"], True, True)
        y, _ = conv(y, g.name + "/project", size, 1, False, False)
        if ba["residual"]:
            z = name("add")
            nodes.append(helper.make_node("Add", [y, inp], [z]))
            y = z
    y, _ = conv(y, "head", size, 1, False, True)
    pooled = name("pool")
    nodes.append(helper.make_node("GlobalAveragePool", [y], [pooled]))
    nodes.append(helper.make_node("Flatten", [pooled], ["features"]))
    graph = helper.make_graph(
        nodes, "effnet", [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["B", S, S, 3])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["B", int(a["num_features"])])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # onnxruntime 1.22 reads IR <= 10; opset 17 needs IR 8
    onnx.checker.check_model(model)
    return model, S, str(a["model"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="weights/efficientnet_lite0.h5")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-spin", action="store_true",
                    help="intra-op threads sleep instead of spin-waiting (honest CPU time)")
    ap.add_argument("--check-pixels")
    ap.add_argument("--check-features")
    args = ap.parse_args()
    model, S, mname = build(args.weights)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if args.no_spin:
        # By default ORT's intra-op threads spin-wait between ops, which burns
        # CPU time that is not work: with this the process CPU time is work.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    if args.check_pixels:
        px = np.load(args.check_pixels)
        feats = sess.run(["features"], {"pixels": px})[0]
        ref = np.load(args.check_features)
        print(f"bench_backbone_ort: max |ORT - C| features = {np.abs(feats - ref).max():.3g}")
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (args.batch, S, S, 3), dtype=np.uint8)
    sess.run(["features"], {"pixels": px})  # warm-up
    t0 = time.perf_counter()
    c0 = time.process_time()
    for _ in range(args.iters):
        sess.run(["features"], {"pixels": px})
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = args.iters * args.batch
    print(f"bench_backbone_ort: {mname} {S}x{S} batch {args.batch}, onnxruntime {ort.__version__} "
          f"x {args.threads} thread(s){' no-spin' if args.no_spin else ''}: {n / dt:.1f} images/s ({n} images in {dt:.2f} s), "
          f"CPU {cpu * 1e3 / n:.1f} ms/image")


if __name__ == "__main__":
    main()
