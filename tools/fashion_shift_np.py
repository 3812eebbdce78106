#!/usr/bin/python3
"""fashion-shift in numpy: a byte-exact port of src/data/shift.c (the same
splits, features and random draws), for research scripts that want the
benchmark as arrays without writing 80,000 PNGs.

    from fashion_shift_np import generate
    d = generate("invert", seed=0)     # {"pretrain": (x uint8 (n,28,28), y, tex, mark), ...}

`python3 tools/fashion_shift_np.py --check DIR` compares every PNG of a folder
written by `levi-cl data fashion-shift` with the arrays (PNG with the SUB
filter, as levi-cl writes them)."""
import argparse
import gzip
import os
import struct
import sys
import zlib

import numpy as np

SIDE = 28
TEXTURE_LEVEL = 110
BG_THRESHOLD = 16
M64 = (1 << 64) - 1
SPLITS = ["pretrain", "train", "test-id", "test-ood"]
FIRST = [0, 30000, 0, 0]
COUNT = [30000, 30000, 10000, 10000]
FROM_TEST = [0, 0, 1, 1]
CLASSES = ["0-tshirt", "1-trouser", "2-pullover", "3-dress", "4-coat",
           "5-sandal", "6-shirt", "7-sneaker", "8-bag", "9-boot"]
MARKER_YX = [(1, 1), (1, 9), (1, 16), (1, 24), (12, 1), (12, 24), (24, 1), (24, 9), (24, 16), (24, 24)]


def splitmix(st):
    st = (st + 0x9e3779b97f4a7c15) & M64
    z = st
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return st, z ^ (z >> 31)


def draw_below(st, n):
    st, r = splitmix(st)
    return st, ((r >> 32) * n) >> 32


def draw_linked(st, label, rho):
    st, r = splitmix(st)
    u = (r >> 11) * (1.0 / 9007199254740992.0)
    st, other = draw_below(st, 9)
    return st, (label if u < rho else (other + 1 if other >= label else other))


def choose(seed, split, index, label, rho_a, rho_b):
    st = seed ^ ((0x9e3779b97f4a7c15 * (split + 1)) & M64)
    st, _ = splitmix(st)
    st ^= (0xd6e8feb86659fd93 * (index + 1)) & M64
    st, _ = splitmix(st)
    tex = mark = -1
    if split == 0:
        st, tex = draw_linked(st, label, rho_a)
    elif split in (1, 2):
        st, mark = draw_linked(st, label, rho_b)
    else:
        st, tex = draw_below(st, 10)
        st, mark = draw_below(st, 10)
    return tex, mark


def texture_masks():
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    m = [y % 3 == 0, x % 3 == 0, (x + y) % 4 == 0, (x - y + 28) % 4 == 0, ((x // 2) + (y // 2)) % 2 == 0,
         (x % 4 == 0) & (y % 4 == 0), y % 5 == 0, x % 5 == 0, (x % 6 == 0) | (y % 6 == 0),
         ((x + y) % 6 == 0) | ((x - y + 30) % 6 == 0)]
    return np.stack(m)


def subdomain(name, src):
    """src (n,28,28) uint8 → (n,28,28) uint8, integer arithmetic as shift.c."""
    s = src.astype(np.int64)
    if name == "invert":
        return (255 - s).astype(np.uint8)
    p = np.pad(s, ((0, 0), (1, 1), (1, 1)), mode="edge") if name == "edges" else np.pad(s, ((0, 0), (2, 2), (2, 2)), mode="edge")
    if name == "edges":
        P = lambda dy, dx: p[:, 1 + dy:1 + dy + SIDE, 1 + dx:1 + dx + SIDE]
        gx = (P(-1, 1) + 2 * P(0, 1) + P(1, 1)) - (P(-1, -1) + 2 * P(0, -1) + P(1, -1))
        gy = (P(1, -1) + 2 * P(1, 0) + P(1, 1)) - (P(-1, -1) + 2 * P(-1, 0) + P(-1, 1))
        m = (np.abs(gx) + np.abs(gy)) // 4
        return np.minimum(m, 255).astype(np.uint8)
    if name == "blur":
        w = [1, 4, 6, 4, 1]
        tmp = sum(w[k] * p[:, :, k:k + SIDE] for k in range(5))  # rows padded by 2 on both axes
        tmp = tmp[:, 2:2 + SIDE, :]
        tp = np.pad(tmp, ((0, 0), (2, 2), (0, 0)), mode="edge")
        acc = sum(w[k] * tp[:, k:k + SIDE, :] for k in range(5))
        return ((acc + 128) // 256).astype(np.uint8)
    raise ValueError(f"unknown subdomain {name}")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic == 2051:
        n, r, c = struct.unpack(">III", data[4:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, r, c)
    n = struct.unpack(">I", data[4:8])[0]
    return np.frombuffer(data, np.uint8, offset=8)[:n]


def generate(sub="invert", seed=0, rho_a=0.9, rho_b=0.9, source="/usr/share/datasets/fashion-mnist"):
    """{split: (x (n,28,28) uint8, y (n,) int64, tex (n,), mark (n,))}, in index order."""
    tr_x = read_idx(os.path.join(source, "train-images-idx3-ubyte.gz"))
    tr_y = read_idx(os.path.join(source, "train-labels-idx1-ubyte.gz"))
    te_x = read_idx(os.path.join(source, "t10k-images-idx3-ubyte.gz"))
    te_y = read_idx(os.path.join(source, "t10k-labels-idx1-ubyte.gz"))
    masks = texture_masks()
    out = {}
    for s, name in enumerate(SPLITS):
        X, Y = (te_x, te_y) if FROM_TEST[s] else (tr_x, tr_y)
        src = X[FIRST[s]:FIRST[s] + COUNT[s]]
        y = Y[FIRST[s]:FIRST[s] + COUNT[s]].astype(np.int64)
        feats = [choose(seed, s, FIRST[s] + i, int(y[i]), rho_a, rho_b) for i in range(len(y))]
        tex = np.array([f[0] for f in feats])
        mark = np.array([f[1] for f in feats])
        img = src.copy() if s == 0 else subdomain(sub, src)
        has = tex >= 0
        m = masks[np.where(has, tex, 0)] & has[:, None, None] & (src < BG_THRESHOLD)
        img = np.where(m, np.uint8(TEXTURE_LEVEL), img)
        for i in np.nonzero(mark >= 0)[0]:
            y0, x0 = MARKER_YX[mark[i]]
            for dy in range(3):
                for dx in range(3):
                    img[i, y0 + dy, x0 + dx] = 255 if (dy + dx) % 2 == 0 else 0
        out[name] = (img, y, tex, mark)
    return out


def read_png_sub(path):
    """Decode an 8-bit gray PNG whose rows use filters 0 or 1 (what levi-cl writes)."""
    data = open(path, "rb").read()
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
            assert body[8] == 8 and body[9] == 0, "8-bit gray only"
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w + 1)
    out = raw[:, 1:].astype(np.int64)
    for r in range(h):
        if raw[r, 0] == 1:
            out[r] = np.cumsum(out[r]) % 256
        else:
            assert raw[r, 0] == 0, f"filter {raw[r, 0]}"
    return out.astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", required=True, help="folder written by levi-cl data fashion-shift")
    ap.add_argument("--per-class", type=int, default=20, help="PNGs checked per class and split")
    a = ap.parse_args()
    import json
    man = json.load(open(os.path.join(a.check, "manifest.json")))
    d = generate(man["subdomain"], int(man["seed"]), man["rho_a"], man["rho_b"])
    bad = checked = 0
    for s, name in enumerate(SPLITS):
        img, y, _, _ = d[name]
        for c in CLASSES:
            files = sorted(os.listdir(os.path.join(a.check, name, c)))[:a.per_class]
            for f in files:
                idx = int(f[:-4]) - FIRST[s]
                got = read_png_sub(os.path.join(a.check, name, c, f))
                checked += 1
                if int(y[idx]) != int(c[0]) or not np.array_equal(got, img[idx]):
                    bad += 1
                    print(f"mismatch: {name}/{c}/{f}", file=sys.stderr)
    print(f"{checked} images checked, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
