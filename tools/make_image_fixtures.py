#!/usr/bin/env python3
"""Image fixtures of the data suites (tests/test_image.c), written deterministically:

  tests/fixtures/images/        real-size photo-like inputs (JPEG baseline, progressive and
                                grayscale, RGBA PNG, palette PNG; outputs kept small) and small JPEGs for decoding
  tests/fixtures/images/bad/    at least 10 broken JPEGs (truncated, corrupt, CMYK, 12-bit,
                                lossless, enormous or empty dimensions, no image ...)
  tests/fixtures/preprocess.bin golden outputs (tools/golden_format.py format):
      decode/<name>        Pillow's decoded pixels of the small JPEGs, (H, W, C) as floats
      resample/<f>/<case>  Image.resize of a synthetic 8-bit image with each PIL filter
      proc/<case>          transformers' pixel_values (C, H, W) for a preprocessor_config
                           (the config text is stored next to it as proc/<case>.json)

Run in a virtual environment outside the repository:
  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install transformers pillow numpy
  /tmp/venv/bin/python tools/make_image_fixtures.py
Reference: transformers' PIL backend (ViTImageProcessorPil / CLIPImageProcessorPil in
transformers 5, the same steps as ViTImageProcessor/CLIPImageProcessor of transformers 4).
"""
import io
import json
import os
import struct
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from golden_format import write_golden  # noqa: E402

ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "tests", "fixtures", "images")
BAD = os.path.join(OUT, "bad")


def photo(w, h, seed):
    """A photo-like RGB image: sky gradient, shapes of random colour, texture, sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    top, bottom = rng.uniform(40, 220, 3), rng.uniform(20, 200, 3)
    t = y / (h - 1)
    for c in range(3):
        img[..., c] = top[c] * (1 - t) + bottom[c] * t
    for _ in range(12):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.3) * min(w, h)
        col = rng.uniform(0, 255, 3)
        mask = ((x - cx) ** 2 + (y - cy) ** 2) < r * r
        img[mask] = 0.3 * img[mask] + 0.7 * col
    fx, fy = rng.uniform(0.02, 0.2, 2)
    img += 18 * np.sin(x * fx + np.sin(y * fy) * 3)[..., None]
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def save(im, name, **kw):
    path = os.path.join(OUT, name)
    im.save(path, **kw)
    return path


def write_inputs():
    os.makedirs(BAD, exist_ok=True)
    rgb = Image.fromarray(photo(640, 480, 1))
    save(rgb, "photo_rgb.jpg", quality=90)
    save(Image.fromarray(photo(480, 640, 2)).convert("L"), "photo_gray.jpg", quality=85)
    save(Image.fromarray(photo(500, 375, 3)), "photo_prog.jpg", quality=80, progressive=True)
    a = photo(200, 150, 4)
    alpha = np.tile(np.linspace(0, 255, 200).astype(np.uint8), (150, 1))
    save(Image.fromarray(np.dstack([a, alpha]), "RGBA"), "photo_rgba.png")
    save(Image.fromarray(photo(60, 45, 5)).quantize(colors=16, dither=Image.Dither.NONE), "small_pal.png")
    small = Image.fromarray(photo(36, 26, 6))
    save(small, "small_420.jpg", quality=75)
    save(small, "small_444.jpg", quality=95, subsampling=0)
    save(small.convert("L"), "small_gray.jpg", quality=75)
    save(small, "small_prog.jpg", quality=75, progressive=True)


def segments(data):
    """(marker, start, end) of each marker segment up to SOS (start at the 0xFF)."""
    out, i = [], 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF
        m = data[i + 1]
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append((m, i, i + 2 + n))
        if m == 0xDA:
            break
        i += 2 + n
    return out


def seg(data, marker):
    return next(s for s in segments(data) if s[0] == marker)


def write_bad():
    base = open(os.path.join(OUT, "small_420.jpg"), "rb").read()
    prog = open(os.path.join(OUT, "small_prog.jpg"), "rb").read()
    _, sof, _ = next(s for s in segments(base) if s[0] in (0xC0, 0xC1))
    _, sos, sos_end = seg(base, 0xDA)
    bad = {}
    bad["empty.jpg"] = b""
    bad["soi_only.jpg"] = base[:2]
    bad["not_jpeg.jpg"] = b"hello, I am a text file named like a photograph\n"
    bad["truncated_header.jpg"] = base[:seg(base, 0xDB)[1] + 20]
    bad["truncated_half.jpg"] = base[:len(base) // 2]
    bad["truncated_progressive.jpg"] = prog[:len(prog) * 6 // 10]
    b = bytearray(base)
    struct.pack_into(">HH", b, sof + 5, 60000, 60000)
    bad["enormous.jpg"] = bytes(b)
    b = bytearray(base)
    struct.pack_into(">H", b, sof + 7, 0)
    bad["zero_width.jpg"] = bytes(b)
    b = bytearray(base)
    b[sof + 4] = 12
    bad["precision12.jpg"] = bytes(b)
    b = bytearray(base)
    b[sof + 1] = 0xC3
    bad["lossless.jpg"] = bytes(b)
    b = bytearray(base)
    b[seg(base, 0xDB)[1] + 4] = 0x07
    bad["bad_dqt.jpg"] = bytes(b)
    bad["no_image.jpg"] = base[:sos] + b"\xff\xd9"
    b = bytearray(base)
    mid = (sos_end + len(base)) // 2
    for k in range(mid, mid + 24):
        b[k] ^= 0xA5
    b[len(b) - 2:] = b"\x00\x00"  # and no EOI
    bad["corrupt_data.jpg"] = bytes(b)
    cmyk = io.BytesIO()
    Image.new("CMYK", (16, 16), (10, 20, 30, 40)).save(cmyk, "JPEG", quality=80)
    bad["cmyk.jpg"] = cmyk.getvalue()
    for name, data in bad.items():
        with open(os.path.join(BAD, name), "wb") as f:
            f.write(data)
    return sorted(bad)


def as_float(a):
    return np.asarray(a, dtype=np.float32)


def main():
    import transformers
    from transformers import CLIPImageProcessorPil, ViTImageProcessorPil

    write_inputs()
    bad = write_bad()
    arrays = []
    for name in ("small_420.jpg", "small_444.jpg", "small_gray.jpg", "small_prog.jpg"):
        im = Image.open(os.path.join(OUT, name))
        a = np.asarray(im)
        if a.ndim == 2:
            a = a[..., None]
        arrays.append(("decode/" + name, as_float(a)))
    # PIL's filters on a synthetic 8-bit image, down, up and with a box
    src = photo(37, 29, 7)
    arrays.append(("resample/src", as_float(src)))
    for f in range(6):
        im = Image.fromarray(src)
        arrays.append(("resample/%d/down" % f, as_float(np.asarray(im.resize((17, 13), resample=f)))))
        arrays.append(("resample/%d/up" % f, as_float(np.asarray(im.convert("L").resize((45, 33), resample=f)))))
        box = (3.5, 2.25, 30.0, 27.0)
        arrays.append(("resample/%d/box" % f, as_float(np.asarray(im.resize((20, 16), resample=f, box=box)))))
    imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    cases = [
        ("vit_bilinear", "photo_rgb.jpg", "RGB",
         {"image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 48, "width": 64},
          "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
          "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}),
        ("imagenet_bicubic", "photo_prog.jpg", "RGB",
         {"image_processor_type": "ViTImageProcessor", "size": 56, "resample": 3,
          "image_mean": imagenet[0], "image_std": imagenet[1]}),
        ("clip_crop", "photo_rgba.png", "RGB",
         {"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 40}, "do_center_crop": True,
          "crop_size": {"height": 32, "width": 36}, "resample": 3, "do_rescale": True,
          "rescale_factor": 0.00392156862745098, "do_normalize": True,
          "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}),
        ("gray_lanczos", "photo_gray.jpg", "L",
         {"image_processor_type": "ViTImageProcessor", "size": {"height": 56, "width": 48}, "resample": 1,
          "image_mean": [0.5], "image_std": [0.25]}),
        ("pal_hamming_up", "small_pal.png", "RGB",
         {"image_processor_type": "ViTImageProcessor", "size": {"height": 56, "width": 72}, "resample": 5,
          "image_mean": 0.4, "image_std": 0.3}),
        ("rgb_nearest", "photo_rgb.jpg", "RGB",
         {"image_processor_type": "ViTImageProcessor", "size": {"height": 40, "width": 50}, "resample": 0,
          "do_normalize": False}),
        ("crop_pad", "small_pal.png", "RGB",
         {"image_processor_type": "CLIPImageProcessor", "do_resize": False, "do_center_crop": True,
          "crop_size": {"height": 52, "width": 31}, "do_rescale": False, "image_mean": imagenet[0],
          "image_std": imagenet[1]}),
    ]
    configs = {}
    for name, img, mode, cfg in cases:
        cls = CLIPImageProcessorPil if cfg["image_processor_type"].startswith("CLIP") else ViTImageProcessorPil
        kw = {k: v for k, v in cfg.items() if k != "image_processor_type"}
        proc = cls(**kw)
        im = Image.open(os.path.join(OUT, img)).convert(mode)  # what levi-cl does for the backbone's channels
        pv = proc(im, return_tensors="np", do_convert_rgb=False)["pixel_values"][0]
        arrays.append(("proc/" + name, as_float(pv)))
        configs[name] = {"image": img, "channels": 1 if mode == "L" else 3, "config": cfg}
    write_golden(os.path.join(ROOT, "tests", "fixtures", "preprocess.bin"), arrays)
    with open(os.path.join(ROOT, "tests", "fixtures", "preprocess_cases.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "pillow": Image.__version__, "cases": configs}, f,
                  indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %d arrays, %d bad JPEGs (transformers %s, Pillow %s)" %
          (len(arrays), len(bad), transformers.__version__, Image.__version__))


if __name__ == "__main__":
    main()
