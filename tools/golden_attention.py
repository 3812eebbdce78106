#!/usr/bin/python3
"""Write tests/fixtures/attention.bin: multi-head attention with a key-padding
mask at T = 17, 65, 197 and 577, forward and backward, computed by PyTorch's
scaled_dot_product_attention in float64 (stored as float32).

The inputs are not stored: q, k, v and dout are drawn from the same
generator as tests/testutil.c's test_fill_uniform (a 64-bit LCG, uniform in
[-2, 2), rounded to float32), so the test draws them again; the mask keeps
the first T - b*T/4 tokens of image b (all of image 0). Per case `tT.` the
file holds dims (B, T, C, NH, seed), out, and dq, dk, dv of
loss = sum(out * dout). Not needed to build or test: the fixture is
committed. Run with a torch >= 2.0:

    python3 tools/golden_attention.py [tests/fixtures/attention.bin]
"""
import sys

import numpy as np
import torch

from golden_format import write_golden

# (B, T, C, NH): head sizes 16, 64, 8 and 4 (compile-time kernel variants and the general one)
CASES = [(2, 17, 32, 2), (1, 65, 64, 1), (2, 197, 16, 2), (2, 577, 4, 1)]
MASK_MUL = 6364136223846793005
MASK_ADD = 1442695040888963407


def fill_uniform(n, seed, lo, hi):
    """tests/testutil.c test_fill_uniform, bit for bit."""
    m = (1 << 64) - 1
    s = (seed * MASK_MUL + MASK_ADD) & m
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        s = (s * MASK_MUL + MASK_ADD) & m
        u = float(s >> 11) / 9007199254740992.0
        out[i] = np.float32(lo + (hi - lo) * u)
    return out


def case(B, T, C, NH, seed):
    n = B * T * C
    q, k, v, dout = (torch.from_numpy(fill_uniform(n, seed + i, -2.0, 2.0)).double().view(B, T, C) for i in range(4))
    keep = torch.tensor([[t < T - (b * T) // 4 for t in range(T)] for b in range(B)])
    for t in (q, k, v):
        t.requires_grad_(True)

    def heads(t):  # (B,T,C) -> (B,NH,T,hs)
        return t.view(B, T, NH, C // NH).permute(0, 2, 1, 3)

    mask = keep.view(B, 1, 1, T)  # True = attend
    ctx = torch.nn.functional.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=mask)
    out = ctx.permute(0, 2, 1, 3).reshape(B, T, C)
    (out * dout).sum().backward()
    p = "t%d." % T
    dims = torch.tensor([B, T, C, NH, seed], dtype=torch.float64)
    return [(p + "dims", dims), (p + "out", out), (p + "dq", q.grad), (p + "dk", k.grad), (p + "dv", v.grad)]


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/attention.bin"
    arrays = []
    for i, (B, T, C, NH) in enumerate(CASES):
        arrays += case(B, T, C, NH, 100 + 10 * i)
    write_golden(out_path, arrays)
    print("wrote %s: %d arrays" % (out_path, len(arrays)))


if __name__ == "__main__":
    main()
