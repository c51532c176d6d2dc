#!/usr/bin/env python3
"""resize_ref.py - Pillow reference for src/ingest/{image,resize}.c.

Beside the product only (tests). Two commands:

  resize_ref.py resize --side S --fit pad|crop --filter box|bilinear|bicubic
                       [--background R,G,B] --out DIR FILE...
      decodes each FILE with Pillow, applies the EXIF orientation
      (ImageOps.exif_transpose), composites alpha over the background, and
      resizes with the same geometry as resize.c; writes DIR/<name>.rgb, the
      raw (S, S, 3) uint8 pixels.

  resize_ref.py make-cases DIR
      writes synthetic test images made by Pillow (PNG: palette, palette+tRNS,
      gray, gray+tRNS, gray+alpha, 16-bit RGB/RGBA/gray, RGBA, interlaced;
      JPEG: baseline, progressive, grayscale, CMYK, EXIF orientations 2-8)
      and, for each, DIR/<name>.ref (a text line "<w> <h>\n", then the
      decoded RGB pixels as Pillow gives them over a white background).

The Pillow calls and why they are the reference: docs/ingest-images.md.
"""
import argparse
import io
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

FILTERS = {"box": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR,
           "bicubic": Image.Resampling.BICUBIC}


def to_rgb(im, bg):
    """Pillow's decode to 8-bit RGB, alpha composited over bg."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit gray: keep the high byte (Pillow's own I;16 -> L clips).
        a = np.asarray(im, dtype=np.uint32) >> 8
        im = Image.fromarray(a.astype(np.uint8), "L")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", im.size, tuple(bg) + (255,))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return im.convert("RGB")


def decode(path, bg):
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    return to_rgb(im, bg)


def fit(im, side, how, filt, bg):
    w, h = im.size
    if how == "crop":
        m = min(w, h)
        x0, y0 = (w - m) / 2.0, (h - m) / 2.0
        return im.resize((side, side), FILTERS[filt], box=(x0, y0, x0 + m, y0 + m))
    if w >= h:
        nw, nh = side, max(1, int(math.floor(h * side / w + 0.5)))
    else:
        nw, nh = max(1, int(math.floor(w * side / h + 0.5))), side
    r = im.resize((nw, nh), FILTERS[filt])
    canvas = Image.new("RGB", (side, side), tuple(bg))
    canvas.paste(r, ((side - nw) // 2, (side - nh) // 2))
    return canvas


def cmd_resize(a):
    bg = [int(v) for v in a.background.split(",")]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for f in a.files:
        im = fit(decode(f, bg), a.side, a.fit, a.filter, bg)
        (out / (Path(f).name + ".rgb")).write_bytes(im.tobytes())


def gradient_rgba(w, h):
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1)).astype(np.uint8)
    g = (y * 255 // max(h - 1, 1)).astype(np.uint8)
    b = ((x * 7 + y * 13) % 256).astype(np.uint8)
    a = ((x + y) * 255 // max(w + h - 2, 1)).astype(np.uint8)
    return np.dstack([r, g, b, a])


def cmd_make_cases(a):
    out = Path(a.dir)
    out.mkdir(parents=True, exist_ok=True)
    w, h = 37, 29
    px = gradient_rgba(w, h)
    rgb = Image.fromarray(px[:, :, :3], "RGB")
    cases = {}
    cases["rgb.png"] = (rgb, {})
    cases["rgba.png"] = (Image.fromarray(px, "RGBA"), {})
    cases["interlaced_rgba.png"] = (Image.fromarray(px, "RGBA"), {"interlace": 1})
    cases["gray.png"] = (rgb.convert("L"), {})
    la = Image.merge("LA", (rgb.convert("L"), Image.fromarray(px[:, :, 3], "L")))
    cases["gray_alpha.png"] = (la, {})
    pal = rgb.quantize(colors=16)
    cases["palette.png"] = (pal, {})
    cases["palette_trns.png"] = (pal, {"transparency": 3})
    cases["gray_trns.png"] = (rgb.convert("L"), {"transparency": int(np.asarray(rgb.convert("L"))[0, 0])})
    for name, (im, kw) in cases.items():
        im.save(out / name, "PNG", **kw)
    # 16-bit PNGs: Pillow cannot write 16-bit RGB(A), so build them by hand.
    import struct
    import zlib

    def png16(path, arr, color_type):
        hh, ww = arr.shape[:2]
        raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(hh))

        def chunk(k, d):
            return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)
        data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", ww, hh, 16, color_type, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
        Path(path).write_bytes(data)
    p16 = px.astype(np.uint16) * 257 + (np.arange(w)[None, :, None] % 200).astype(np.uint16)
    png16(out / "rgb16.png", p16[:, :, :3], 2)
    png16(out / "rgba16.png", p16, 6)
    png16(out / "gray16.png", p16[:, :, 1], 0)
    # JPEGs.
    rgb.save(out / "baseline.jpg", "JPEG", quality=92)
    rgb.save(out / "progressive.jpg", "JPEG", quality=92, progressive=True)
    rgb.convert("L").save(out / "gray.jpg", "JPEG", quality=92)
    rgb.convert("CMYK").save(out / "cmyk.jpg", "JPEG", quality=92)
    for o in range(2, 9):
        ex = Image.Exif()
        ex[0x0112] = o
        rgb.save(out / f"exif{o}.jpg", "JPEG", quality=92, exif=ex.tobytes())
    for f in sorted(out.iterdir()):
        if f.suffix not in (".png", ".jpg"):
            continue
        im = decode(f, [255, 255, 255])
        (out / (f.name + ".ref")).write_bytes(b"%d %d\n" % im.size + im.tobytes())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("resize")
    r.add_argument("--side", type=int, default=224)
    r.add_argument("--fit", choices=["pad", "crop"], default="pad")
    r.add_argument("--filter", choices=list(FILTERS), default="bilinear")
    r.add_argument("--background", default="255,255,255")
    r.add_argument("--out", required=True)
    r.add_argument("files", nargs="+")
    m = sub.add_parser("make-cases")
    m.add_argument("dir")
    a = p.parse_args()
    {"resize": cmd_resize, "make-cases": cmd_make_cases}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
