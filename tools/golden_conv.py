#!/usr/bin/python3
"""Write tests/fixtures/conv_block.bin: a small CNN block, forward and
backward, computed by PyTorch (the reference for tests/test_conv.c).

    x (B,C,H,W) -> conv1 (3x3, pad 1) -> ReLU -> max-pool 2x2 stride 2
      -> conv2 (3x3, pad 1) -> ReLU -> global average pool -> linear = out (B,K)
    loss = sum(out * R)

Random weights with a fixed seed; the block runs in float64 so the reference
is exact to well below the test tolerances; arrays are stored as float32
(inputs are rounded to float32 before use, so they are exactly what the C test
reads). H and W are odd, so the pool drops the last row and column.
Not needed to build or test: the fixture is committed. Run with Debian's
torch (Python 3, torch >= 1.13):

    /usr/bin/python3 tools/golden_conv.py [tests/fixtures/conv_block.bin]

File format (little-endian, read by tests/golden.c):
    b"LEVIGLD1", u32 version (1), u32 count,
    count x [u32 name_len, name, u32 ndim, u32 dims[ndim], float32 data]
"""
import sys

import torch

from golden_format import write_golden
import torch.nn.functional as F

B, C, H, W = 2, 2, 9, 9  # input
C1, C2, K = 4, 6, 3  # conv1 / conv2 channels, classes
SEED = 4321


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/conv_block.bin"
    g = torch.Generator().manual_seed(SEED)

    def rnd(*shape, scale=1.0):
        return ((torch.rand(*shape, generator=g) * 2 - 1) * scale).float().double()

    x = rnd(B, C, H, W).requires_grad_()
    params = [
        ("conv1.weight", rnd(C1, C, 3, 3, scale=0.5)),
        ("conv1.bias", rnd(C1, scale=0.1)),
        ("conv2.weight", rnd(C2, C1, 3, 3, scale=0.3)),
        ("conv2.bias", rnd(C2, scale=0.1)),
        ("fc.weight", rnd(K, C2, scale=0.5)),
        ("fc.bias", rnd(K, scale=0.1)),
    ]
    for _, p in params:
        p.requires_grad_()
    p = dict(params)
    R = rnd(B, K)

    h1 = F.relu(F.conv2d(x, p["conv1.weight"], p["conv1.bias"], stride=1, padding=1))
    h2 = F.max_pool2d(h1, 2, 2)
    h3 = F.relu(F.conv2d(h2, p["conv2.weight"], p["conv2.bias"], stride=1, padding=1))
    feat = h3.mean(dim=(2, 3))
    out = F.linear(feat, p["fc.weight"], p["fc.bias"])
    loss = (out * R).sum()
    loss.backward()

    arrays = [("dims", torch.tensor([B, C, H, W, C1, C2, K], dtype=torch.float64)), ("x", x)]
    arrays += params
    arrays += [("R", R), ("pool", h2), ("feat", feat), ("out", out), ("loss", loss.reshape(1)), ("d_x", x.grad)]
    arrays += [("d_" + name, t.grad) for name, t in params]
    write_golden(out_path, arrays)
    print("wrote %s: %d arrays, loss %.6f" % (out_path, len(arrays), loss.item()))


if __name__ == "__main__":
    main()
