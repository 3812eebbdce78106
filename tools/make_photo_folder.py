#!/usr/bin/env python3
"""A photo-like ImageFolder for trying the JPEG path at real size (not used by the tests):
Fashion-MNIST items upscaled to 160..640 pixels a side, coloured, on a textured background,
with sensor noise; mostly JPEG (baseline and progressive, 4:2:0 and 4:4:4, some grayscale),
some RGBA and palette PNGs. Deterministic for a seed.

  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pillow numpy
  /tmp/venv/bin/python tools/make_photo_folder.py OUT_DIR [--per-class N] [--seed S]
"""
import argparse
import gzip
import os

import numpy as np
from PIL import Image

SRC = "/usr/share/datasets/fashion-mnist"
CLASSES = ["0-tshirt", "1-trouser", "2-pullover", "3-dress", "4-coat", "5-sandal", "6-shirt", "7-sneaker", "8-bag",
           "9-boot"]


def idx(path):
    with gzip.open(path) as f:
        d = f.read()
    if int.from_bytes(d[:4], "big") == 0x803:
        n, r, c = (int.from_bytes(d[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
        return np.frombuffer(d, np.uint8, offset=16).reshape(n, r, c)
    return np.frombuffer(d, np.uint8, offset=8)


def photo(item, w, h, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    bg = np.zeros((h, w, 3))
    a, b = rng.uniform(30, 220, 3), rng.uniform(30, 220, 3)
    t = (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1)) / max(w, h)
    for c in range(3):
        bg[..., c] = a[c] + (b[c] - a[c]) * (t - t.min()) / (np.ptp(t) + 1e-9)
    bg += 12 * np.sin(x * rng.uniform(0.02, 0.3) + 2 * np.sin(y * rng.uniform(0.02, 0.3)))[..., None]
    side = int(min(w, h) * rng.uniform(0.6, 0.95))
    obj = np.asarray(Image.fromarray(item).resize((side, side), Image.BICUBIC), np.float64) / 255
    col = rng.uniform(40, 255, 3)
    oy, ox = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    region = bg[oy:oy + side, ox:ox + side]
    bg[oy:oy + side, ox:ox + side] = region * (1 - obj[..., None]) + obj[..., None] * col
    bg += rng.normal(0, 5, bg.shape)
    return np.clip(np.rint(bg), 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--offset", type=int, default=0, help="first Fashion-MNIST test image to use")
    a = ap.parse_args()
    images, labels = idx(os.path.join(SRC, "t10k-images-idx3-ubyte.gz")), idx(os.path.join(SRC, "t10k-labels-idx1-ubyte.gz"))
    rng = np.random.default_rng(a.seed)
    count = {c: 0 for c in range(10)}
    for i in range(a.offset, len(labels)):
        c = int(labels[i])
        if count[c] >= a.per_class:
            if all(v >= a.per_class for v in count.values()):
                break
            continue
        w, h = int(rng.integers(160, 641)), int(rng.integers(160, 481))
        im = Image.fromarray(photo(images[i], w, h, rng))
        d = os.path.join(a.out, CLASSES[c])
        os.makedirs(d, exist_ok=True)
        kind = rng.uniform()
        base = os.path.join(d, "%05d" % i)
        if kind < 0.55:
            im.save(base + ".jpg", quality=int(rng.integers(70, 96)))
        elif kind < 0.7:
            im.save(base + ".JPEG", quality=85, progressive=True)
        elif kind < 0.8:
            im.save(base + ".jpeg", quality=92, subsampling=0)
        elif kind < 0.88:
            im.convert("L").save(base + ".jpg", quality=85)
        elif kind < 0.95:
            alpha = Image.fromarray(rng.integers(128, 256, (h, w), dtype=np.uint8))
            rgba = im.copy()
            rgba.putalpha(alpha)
            rgba.save(base + ".png")
        else:
            im.quantize(colors=64).save(base + ".png")
        count[c] += 1
    print("wrote %d images to %s" % (sum(count.values()), a.out))


if __name__ == "__main__":
    main()
