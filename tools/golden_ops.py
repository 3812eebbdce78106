#!/usr/bin/python3
"""Write tests/fixtures/vit_block.bin: one pre-LN ViT block, forward and
backward, computed by PyTorch exactly as Hugging Face's ViTLayer does it.

    x -> layernorm_before -> query/key/value (Linear with bias) -> SDPA
      -> attention.output.dense -> + x = h
    h -> layernorm_after -> intermediate.dense -> GELU (erf) -> output.dense -> + h = out
    loss = sum(out * R)

Random weights with a fixed seed; the block runs in float64 so the reference
is exact to well below the test tolerances; arrays are stored as float32.
Not needed to build or test: the fixture is committed. Run with Debian's
torch (Python 3, torch >= 1.13):

    /usr/bin/python3 tools/golden_ops.py [tests/fixtures/vit_block.bin]

File format (little-endian, read by tests/golden.c):
    b"LEVIGLD1", u32 version (1), u32 count,
    count x [u32 name_len, name, u32 ndim, u32 dims[ndim], float32 data]
"""
import math
import sys

import torch

from golden_format import write_golden

B, T, C, NH, MLP = 2, 5, 8, 2, 16
EPS = 1e-12  # ViTConfig.layer_norm_eps
SEED = 1234


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/vit_block.bin"
    g = torch.Generator().manual_seed(SEED)

    def rnd(*shape, scale=1.0):
        # round through float32 so the stored inputs are exactly what we computed with
        return ((torch.rand(*shape, generator=g) * 2 - 1) * scale).float().double()

    s = 1.0 / math.sqrt(C)
    params = [
        ("layernorm_before.weight", 1 + rnd(C, scale=0.2)),
        ("layernorm_before.bias", rnd(C, scale=0.2)),
        ("attention.attention.query.weight", rnd(C, C, scale=s)),
        ("attention.attention.query.bias", rnd(C, scale=0.1)),
        ("attention.attention.key.weight", rnd(C, C, scale=s)),
        ("attention.attention.key.bias", rnd(C, scale=0.1)),
        ("attention.attention.value.weight", rnd(C, C, scale=s)),
        ("attention.attention.value.bias", rnd(C, scale=0.1)),
        ("attention.output.dense.weight", rnd(C, C, scale=s)),
        ("attention.output.dense.bias", rnd(C, scale=0.1)),
        ("layernorm_after.weight", 1 + rnd(C, scale=0.2)),
        ("layernorm_after.bias", rnd(C, scale=0.2)),
        ("intermediate.dense.weight", rnd(MLP, C, scale=s)),
        ("intermediate.dense.bias", rnd(MLP, scale=0.1)),
        ("output.dense.weight", rnd(C, MLP, scale=1.0 / math.sqrt(MLP))),
        ("output.dense.bias", rnd(C, scale=0.1)),
    ]
    x = rnd(B, T, C)
    R = rnd(B, T, C)
    for _, p in params:
        p.requires_grad_(True)
    x.requires_grad_(True)
    P = {n: p for n, p in params}
    F = torch.nn.functional

    def heads(t):  # (B,T,C) -> (B,NH,T,hs)
        return t.view(B, T, NH, C // NH).permute(0, 2, 1, 3)

    ln1 = F.layer_norm(x, (C,), P["layernorm_before.weight"], P["layernorm_before.bias"], EPS)
    q = heads(F.linear(ln1, P["attention.attention.query.weight"], P["attention.attention.query.bias"]))
    k = heads(F.linear(ln1, P["attention.attention.key.weight"], P["attention.attention.key.bias"]))
    v = heads(F.linear(ln1, P["attention.attention.value.weight"], P["attention.attention.value.bias"]))
    att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // NH), dim=-1)
    ctx = (att @ v).permute(0, 2, 1, 3).reshape(B, T, C)
    h = F.linear(ctx, P["attention.output.dense.weight"], P["attention.output.dense.bias"]) + x
    ln2 = F.layer_norm(h, (C,), P["layernorm_after.weight"], P["layernorm_after.bias"], EPS)
    mid = F.gelu(F.linear(ln2, P["intermediate.dense.weight"], P["intermediate.dense.bias"]))
    out = F.linear(mid, P["output.dense.weight"], P["output.dense.bias"]) + h
    loss = (out * R).sum()
    loss.backward()

    dims = torch.tensor([B, T, C, NH, MLP], dtype=torch.float64)
    arrays = [("dims", dims), ("eps", torch.tensor([EPS], dtype=torch.float64)), ("x", x), ("R", R)]
    arrays += [(n, p) for n, p in params]
    arrays += [("out", out), ("loss", loss.reshape(1)), ("att", att), ("d.x", x.grad)]
    arrays += [("d." + n, p.grad) for n, p in params]
    write_golden(out_path, arrays)
    print("wrote %s: %d arrays, loss %.6f" % (out_path, len(arrays), loss.item()))


if __name__ == "__main__":
    main()
