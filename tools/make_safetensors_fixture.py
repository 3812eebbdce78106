#!/usr/bin/env python3
"""Write tests/fixtures/small.safetensors with the reference `safetensors`
package (pip install safetensors numpy), for tests/test_safetensors.c.

The values are fixed here and repeated in the test, so the C reader is checked
against a file written by the reference implementation: F32, F16 and BF16
tensors (subnormals, infinities, NaN, signed zero), a scalar, an empty tensor
and __metadata__. safetensors files carry their own format header (the u64
header length + JSON), so no extra magic is added.

Usage: python3 tools/make_safetensors_fixture.py [OUT]
"""
import sys

import numpy as np
from safetensors.numpy import save_file

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/small.safetensors"

# F32 (2,3): -1.0, -0.5, 0, 0.5, 1.0, 1.5
f32 = (np.arange(6, dtype=np.float32) * 0.5 - 1.0).reshape(2, 3)
# F16 bit patterns (2,4): 1, -2, 65504, 2^-24 (smallest subnormal),
# 1023*2^-24 (largest subnormal), +inf, -inf, -0
f16_bits = np.array([0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0x8000], dtype=np.uint16)
f16 = f16_bits.view(np.float16).reshape(2, 4)
# BF16 bit patterns (5,): 1, -123.5, 2^-133 (subnormal), +inf, nan
bf16_bits = np.array([0x3F80, 0xC2F7, 0x0001, 0x7F80, 0x7FC0], dtype=np.uint16)
# numpy has no bfloat16: write the raw bits and patch the dtype in the header.
tensors = {
    "a.f32": f32,
    "b.f16": f16,
    "c.bf16": bf16_bits.view(np.int16),
    "d.scalar": np.array(3.25, dtype=np.float32),
    "e.empty": np.zeros((0, 3), dtype=np.float32),
    "f.nan16": np.array([0x7E00], dtype=np.uint16).view(np.float16),
}
meta = {"format": "pt", "levi": '{"fusion":"concat"}', "classes": "tee,trouser"}
save_file(tensors, OUT, metadata=meta)

# Patch I16 -> BF16 for c.bf16 (data offsets are unchanged; the header grows
# by one byte unless it ends in padding, which leaves the data unaligned: the
# C reader must cope with that too).
with open(OUT, "rb") as f:
    raw = bytearray(f.read())
n = int.from_bytes(raw[:8], "little")
hdr = raw[8 : 8 + n].decode("utf-8")
key = '"c.bf16":{"dtype":"I16"'
assert hdr.count(key) == 1, hdr
hdr = hdr.replace(key, '"c.bf16":{"dtype":"BF16"')
new = hdr.encode("utf-8")
if len(new) > n and new.endswith(b" "):
    new = new[:-1]
raw = bytearray(len(new).to_bytes(8, "little")) + new + raw[8 + n :]
with open(OUT, "wb") as f:
    f.write(raw)

# Check with the reference reader itself.
from safetensors import safe_open  # noqa: E402

with safe_open(OUT, framework="numpy") as f:
    assert f.metadata() == meta
    assert sorted(f.keys()) == sorted(tensors)
print("wrote", OUT, len(raw), "bytes")
