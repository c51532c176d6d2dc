#!/usr/bin/env python3
"""effnet_ref.py - an independent numpy forward pass of EfficientNet-Lite0/1/2 from an
assort weights file (docs/weights-format.md), the reference the C network is checked against.

    effnet_ref.py --weights weights/efficientnet_lite0.h5 IMAGE...        top-5 per image
    effnet_ref.py --weights W --pixels px.npy [--features f.npy] [--logits l.npy]

Written from the architecture description only (no code shared with src/nn or the importer):
NHWC, float64 math by default (--float32 for single precision), TensorFlow SAME padding,
ReLU6 after stem/expand/depthwise/head, none after project, residual add where the block says
so, global average pool, then the classifier.

Input: --pixels takes a (N, S, S, 3) uint8 RGB array at the model's native size S (the C side
resizes itself; this path involves no resampling). Image files are opened with Pillow, converted
to RGB and the whole photo is resized to S x S with Pillow's bilinear filter (aspect ratio not
kept, no crop) - good enough for the sanity photos, not bit-identical to any other resizer.
Normalisation: x = (pixel - input_mean) / input_std from the file; --norm tf|torch overrides it
(tf: mean 127, std 128; torch: ImageNet mean/std in 0..255 units) for the experiment that chose it.
"""

import argparse
import sys

import numpy as np

NORMS = {
    "tf": ((127.0, 127.0, 127.0), (128.0, 128.0, 128.0)),
    "torch": ((0.485 * 255, 0.456 * 255, 0.406 * 255), (0.229 * 255, 0.224 * 255, 0.225 * 255)),
}


class Model:
    """All arrays of one weights file, read into memory, plus the attributes needed."""

    def __init__(self, path, dtype=np.float64):
        import h5py
        self.dtype = dtype
        with h5py.File(path, "r") as f:
            a = f.attrs
            if a.get("format") != "assort-weights" or int(a.get("format_version", 0)) != 1:
                raise ValueError(f"{path}: not an assort-weights v1 file")
            self.name = str(a["model"])
            self.image_size = int(a["image_size"])
            self.mean = np.asarray(a["input_mean"], dtype=np.float64)
            self.std = np.asarray(a["input_std"], dtype=np.float64)
            if str(a["activation"]) != "relu6":
                raise ValueError(f"{path}: activation {a['activation']} is not relu6")
            get = lambda p: np.asarray(f[p], dtype=dtype)  # noqa: E731
            self.stem = (get("stem/weight"), get("stem/bias"), int(f["stem"].attrs["stride"]))
            self.blocks = []
            for i in range(int(a["num_blocks"])):
                g = f[f"blocks/{i:02d}"]
                b = {k: int(v) for k, v in g.attrs.items()}
                b["expand"] = (get(g.name + "/expand/weight"), get(g.name + "/expand/bias")) \
                    if "expand" in g else None
                b["depthwise"] = (get(g.name + "/depthwise/weight"), get(g.name + "/depthwise/bias"))
                b["project"] = (get(g.name + "/project/weight"), get(g.name + "/project/bias"))
                self.blocks.append(b)
            self.head = (get("head/weight"), get("head/bias"))
            self.classifier = (get("classifier/weight"), get("classifier/bias"))


def same_pad(x, k, stride):
    """Zero-pads an (N, H, W, C) array the TensorFlow SAME way for kernel k and stride:
    out = ceil(in / stride), total = max((out-1)*stride + k - in, 0), the extra pixel after."""
    pads = [(0, 0)]
    for size in x.shape[1:3]:
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        pads.append((total // 2, total - total // 2))
    pads.append((0, 0))
    return np.pad(x, pads), [-(-s // stride) for s in x.shape[1:3]]


def relu6(x):
    return np.clip(x, 0.0, 6.0, out=x)


def conv_full(x, w, b, stride):
    """Regular convolution. x (N, H, W, Cin); w (Cout, K, K, Cin); returns (N, Ho, Wo, Cout)."""
    cout, k, _, cin = w.shape
    xp, (ho, wo) = same_pad(x, k, stride)
    out = np.zeros((x.shape[0], ho, wo, cout), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            tap = xp[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride, :]
            out += tap @ w[:, i, j, :].T
    return out + b


def conv_1x1(x, w, b):
    """Pointwise convolution. x (N, H, W, Cin); w (Cout, 1, 1, Cin)."""
    return x @ w[:, 0, 0, :].T + b


def conv_depthwise(x, w, b, stride):
    """Depthwise convolution. x (N, H, W, C); w (C, K, K, 1)."""
    c, k = w.shape[0], w.shape[1]
    xp, (ho, wo) = same_pad(x, k, stride)
    out = np.zeros((x.shape[0], ho, wo, c), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            tap = xp[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride, :]
            out += tap * w[:, i, j, 0]
    return out + b


def forward(model, pixels, mean=None, std=None):
    """pixels (N, S, S, 3) uint8 RGB at the native size. Returns (features (N, 1280),
    logits (N, 1000)) in the model's dtype."""
    s = model.image_size
    if pixels.ndim != 4 or pixels.shape[1:] != (s, s, 3):
        raise ValueError(f"pixels have shape {pixels.shape}, {model.name} needs (N, {s}, {s}, 3)")
    mean = model.mean if mean is None else np.asarray(mean)
    std = model.std if std is None else np.asarray(std)
    x = ((pixels.astype(np.float64) - mean) / std).astype(model.dtype)
    w, b, stride = model.stem
    x = relu6(conv_full(x, w, b, stride))
    for blk in model.blocks:
        inp = x
        if blk["expand"] is not None:
            x = relu6(conv_1x1(x, *blk["expand"]))
        x = relu6(conv_depthwise(x, *blk["depthwise"], blk["stride"]))
        x = conv_1x1(x, *blk["project"])
        if blk["residual"]:
            x = x + inp
    x = relu6(conv_1x1(x, *model.head))
    feats = x.mean(axis=(1, 2))
    w, b = model.classifier
    return feats, feats @ w.T + b


def softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def load_images(paths, size):
    """(N, size, size, 3) uint8: each whole photo resized with Pillow's bilinear filter."""
    from PIL import Image
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for n, p in enumerate(paths):
        with Image.open(p) as im:
            out[n] = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))
    return out


def top_k(probs, k=5):
    """Per row, [(class, prob)] best first."""
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(int(c), float(probs[n, c])) for c in row] for n, row in enumerate(idx)]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--pixels", help="(N, S, S, 3) uint8 .npy instead of image files")
    ap.add_argument("--features", help="save the (N, 1280) pooled features as .npy (float32)")
    ap.add_argument("--logits", help="save the (N, 1000) logits as .npy (float32)")
    ap.add_argument("--norm", choices=sorted(NORMS), help="override the file's input normalisation")
    ap.add_argument("--float32", action="store_true", help="single-precision math")
    ap.add_argument("--batch", type=int, default=8, help="images per forward call")
    ap.add_argument("images", nargs="*")
    args = ap.parse_args(argv)
    if bool(args.pixels) == bool(args.images):
        ap.error("give either IMAGE... or --pixels")
    try:
        model = Model(args.weights, np.float32 if args.float32 else np.float64)
        if args.pixels:
            pixels = np.load(args.pixels)
            if pixels.dtype != np.uint8:
                raise ValueError(f"{args.pixels}: dtype {pixels.dtype}, expected uint8")
            names = [f"{args.pixels}[{i}]" for i in range(len(pixels))]
        else:
            pixels = load_images(args.images, model.image_size)
            names = args.images
        mean, std = NORMS[args.norm] if args.norm else (None, None)
        feats, logits = [], []
        for i in range(0, len(pixels), args.batch):
            f, lg = forward(model, pixels[i:i + args.batch], mean, std)
            feats.append(f)
            logits.append(lg)
        feats, logits = np.concatenate(feats), np.concatenate(logits)
    except (OSError, ValueError, KeyError) as e:
        print(f"effnet_ref: {e}", file=sys.stderr)
        return 1
    if args.features:
        np.save(args.features, feats.astype(np.float32))
    if args.logits:
        np.save(args.logits, logits.astype(np.float32))
    for name, top in zip(names, top_k(softmax(logits.astype(np.float64)))):
        print(name + "\t" + " ".join(f"{c}:{p:.4f}" for c, p in top))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
