#!/usr/bin/env python3
"""choose_norm.py - the measurement behind the input normalisation recorded in the weights
files (docs/weights-format.md, "Input normalisation"). Prints markdown tables:

1. top-1 (and the expected class's probability) per sanity photo, model and normalisation,
   from the numpy reference;
2. the stem batch-norm check: the raw (pre-BN) stem convolution's per-channel variance on the
   photos under each normalisation, divided by the BN running variance stored in the source
   checkpoint. Under the normalisation the network was trained with the ratio is near 1;
   the wrong one is off by the square of the std ratio (about 4.8x).

    .venv/bin/python tools/ref/choose_norm.py [--weights-dir weights] [--photos .cache/sanity]
"""

import argparse
import importlib.machinery
import importlib.util
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import effnet_ref  # noqa: E402

PHOTOS = [  # file, expected classes, how: "top1" or "top5"
    ("grace_hopper.jpg", {652}, "top1"),
    ("chelsea.png", {281, 282, 285}, "top1"),
    ("coffee.png", {967, 968, 504}, "top1"),
    ("china.jpg", {698}, "top5"),
]
MODELS = ["lite0", "lite1", "lite2"]


def load_importer(repo):
    path = os.path.join(repo, "tools", "import-weights")
    loader = importlib.machinery.SourceFileLoader("import_weights", path)
    spec = importlib.util.spec_from_loader("import_weights", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def main(argv):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights-dir", default=os.path.join(repo, "weights"))
    ap.add_argument("--photos", default=os.path.join(repo, ".cache", "sanity"))
    args = ap.parse_args(argv)
    imp = load_importer(repo)

    print("| model | norm | " + " | ".join(p[0] for p in PHOTOS) + " | all pass | mean log p(expected) |")
    print("|---|---|" + "---|" * len(PHOTOS) + "---|---|")
    ratios = {}
    for m in MODELS:
        model = effnet_ref.Model(os.path.join(args.weights_dir, f"efficientnet_{m}.h5"))
        pixels = effnet_ref.load_images([os.path.join(args.photos, p[0]) for p in PHOTOS],
                                        model.image_size)
        _, _, pth = imp.find_source(m)
        sd = imp.load_legacy_state_dict(pth)
        raw_w = sd["_conv_stem.weight"].astype(np.float64).transpose(0, 2, 3, 1)  # OHWI
        for norm in sorted(effnet_ref.NORMS):
            mean, std = effnet_ref.NORMS[norm]
            _, logits = effnet_ref.forward(model, pixels, mean, std)
            probs = effnet_ref.softmax(logits)
            cells, ok, logp = [], True, []
            for n, (name, want, how) in enumerate(PHOTOS):
                order = np.argsort(-probs[n])
                top1 = int(order[0])
                hit = top1 in want if how == "top1" else bool(want & set(order[:5].tolist()))
                ok &= hit
                pw = max(probs[n, c] for c in want)
                logp.append(np.log(pw))
                rank = int(np.where(np.isin(order, list(want)))[0][0]) + 1
                cells.append(f"{top1} (p={probs[n, top1]:.2f}; expected rank {rank}, p={pw:.2f})"
                             + ("" if hit else " FAIL"))
            print(f"| {m} | {norm} | " + " | ".join(cells) +
                  f" | {'yes' if ok else 'no'} | {np.mean(logp):.3f} |")
            x = (pixels.astype(np.float64) - np.asarray(mean)) / np.asarray(std)
            pre = effnet_ref.conv_full(x, raw_w, np.zeros(raw_w.shape[0]), 2)
            var = pre.reshape(-1, pre.shape[-1]).var(axis=0)
            rv = sd["_bn0.running_var"].astype(np.float64)
            live = (rv > 1e-6) & (var > 1e-12)  # dead channels (var 0) carry no information
            ratios[(m, norm)] = (var[live] / rv[live], int((~live).sum()))
    print()
    print("| model | norm | stem var / BN running_var: median | geometric mean | dead channels skipped |")
    print("|---|---|---|---|---|")
    for (m, norm), (r, dead) in ratios.items():
        print(f"| {m} | {norm} | {np.median(r):.2f} | {np.exp(np.mean(np.log(r))):.2f} | {dead} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
