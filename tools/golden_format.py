"""The golden fixture format read by tests/golden.c (shared by the tools/golden_*.py exporters).

    "LEVIGLD1", u32 version (1), u32 count, then per array:
    u32 name length, name (UTF-8, < 64 bytes), u32 ndim, u32 shape[ndim],
    float32 little-endian data. A 0-d tensor is written with shape (1,).
"""
import struct

import numpy as np


def write_golden(path, arrays):
    """arrays: list of (name, tensor) with torch tensors or numpy arrays."""
    with open(path, "wb") as f:
        f.write(b"LEVIGLD1")
        f.write(struct.pack("<II", 1, len(arrays)))
        for name, t in arrays:
            if hasattr(t, "detach"):  # a torch tensor (torch is imported by the caller)
                t = t.detach().float().contiguous().numpy()
            t = np.ascontiguousarray(t, dtype="<f4")
            if t.ndim == 0:
                t = t.reshape(1)
            nb = name.encode()
            assert len(nb) < 64, name
            f.write(struct.pack("<I", len(nb)) + nb)
            f.write(struct.pack("<I", t.ndim) + struct.pack("<%dI" % t.ndim, *t.shape))
            f.write(t.tobytes())
