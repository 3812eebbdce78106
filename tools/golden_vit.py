#!/usr/bin/python3
"""Golden fixtures for the ViT backbone (tests/test_vit.c).

Builds a tiny random Hugging Face ViTModel (image 8, patch 4, 1 channel,
dim 16, depth 2, heads 2, mlp 32) and writes, under tests/fixtures/:

  vit_tiny/       config.json + model.safetensors  (ViTModel, with pooler.*)
  vit_tiny_cls/   config.json + model.safetensors  (ViTForImageClassification:
                  the same weights under "vit." plus classifier.*)
  vit_tiny_lora/  config.json + model.safetensors  (base + LoRA rank 2 on query
                  and value: encoder.layer.{i}.attention.attention.{query,value}.lora_{A,B})
  vit_rgb_nobias/ config.json + model.safetensors  (3 channels, image 12, patch 4, dim 24,
                  depth 1, heads 3, qkv_bias False, eps 1e-6)
  vit_tiny.bin    golden arrays (format of tests/golden.h, "LEVIGLD1" v1):
                  pixels (B,C,H,W); hidden.{0..L} and last (B,T,D) as HF
                  hidden_states / last_hidden_state; R.{tap} (B,D) and
                  grad.<weight> for loss = sum_tap sum(cls(tap) * R.tap) with
                  taps {0, L} (L = after the final layernorm); the same for the
                  LoRA model: lora.hidden.*, lora.last, lora.grad.<lora weight>;
                  rgb.pixels, rgb.hidden.*, rgb.last for vit_rgb_nobias.

Run with Debian's torch 1.13 plus transformers (a venv outside the repo):
  /usr/bin/python3 -m venv --system-site-packages /tmp/hfenv
  /tmp/hfenv/bin/pip install 'transformers<4.41' safetensors
  /tmp/hfenv/bin/python tools/golden_vit.py
"""
import os
import sys

import torch

from golden_format import write_golden
from safetensors.torch import save_file
from transformers import ViTConfig, ViTForImageClassification, ViTModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
B, RANK = 2, 2
TAPS = (0, 2)  # levi_vit_cls numbering: block 0's output, and after the final layernorm


class LoraLinear(torch.nn.Module):
    """base(x) + (x A^T) B^T, lora_alpha = rank (scale 1), as peft's LoRA."""

    def __init__(self, base, rank, gen):
        super().__init__()
        self.base = base
        self.lora_A = torch.nn.Parameter(torch.randn(rank, base.in_features, generator=gen) * 0.3)
        self.lora_B = torch.nn.Parameter(torch.randn(base.out_features, rank, generator=gen) * 0.3)

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t()) @ self.lora_B.t()


def cls_taps(out, L):
    hs = out.hidden_states
    return [out.last_hidden_state[:, 0] if t == L else hs[t + 1][:, 0] for t in TAPS]


def main():
    torch.manual_seed(0)
    cfg = ViTConfig(image_size=8, patch_size=4, num_channels=1, hidden_size=16, num_hidden_layers=2,
                    num_attention_heads=2, intermediate_size=32, hidden_act="gelu", layer_norm_eps=1e-12,
                    qkv_bias=True, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    L = cfg.num_hidden_layers
    model = ViTModel(cfg)  # with the pooler: the loader must ignore pooler.*
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # large random weights so that parity means something
        for name, p in model.named_parameters():
            if "layernorm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * (0.5 if "embeddings" in name else 0.3))
    model.eval()
    for sub in ("vit_tiny", "vit_tiny_cls", "vit_tiny_lora"):
        os.makedirs(os.path.join(ROOT, sub), exist_ok=True)
    model.save_pretrained(os.path.join(ROOT, "vit_tiny"), safe_serialization=True)

    ccfg = ViTConfig(**cfg.to_dict())
    ccfg.num_labels = 3
    cls_model = ViTForImageClassification(ccfg)
    missing, unexpected = cls_model.vit.load_state_dict(
        {k: v for k, v in model.state_dict().items() if not k.startswith("pooler.")}, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    cls_model.save_pretrained(os.path.join(ROOT, "vit_tiny_cls"), safe_serialization=True)

    pixels = torch.randn(B, 1, 8, 8, generator=gen)
    R = {t: torch.randn(B, cfg.hidden_size, generator=gen) for t in TAPS}
    arrays = [("pixels", pixels)]

    out = model(pixel_values=pixels, output_hidden_states=True)
    for i, h in enumerate(out.hidden_states):
        arrays.append(("hidden.%d" % i, h))
    arrays.append(("last", out.last_hidden_state))
    loss = sum((c * R[t]).sum() for c, t in zip(cls_taps(out, L), TAPS))
    loss.backward()
    for t in TAPS:
        arrays.append(("R.%d" % t, R[t]))
    for name, p in model.named_parameters():
        if not name.startswith("pooler."):
            arrays.append(("grad." + name, p.grad))

    # LoRA on query and value, base frozen
    lora_model = ViTModel(cfg, add_pooling_layer=False)
    lora_model.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("pooler.")})
    lora_model.eval()
    for p in lora_model.parameters():
        p.requires_grad_(False)
    lora_state = {}
    for i, layer in enumerate(lora_model.encoder.layer):
        att = layer.attention.attention
        for which in ("query", "value"):
            mod = LoraLinear(getattr(att, which), RANK, gen)
            setattr(att, which, mod)
            pre = "encoder.layer.%d.attention.attention.%s." % (i, which)
            lora_state[pre + "lora_A"] = mod.lora_A
            lora_state[pre + "lora_B"] = mod.lora_B
    out = lora_model(pixel_values=pixels, output_hidden_states=True)
    for i, h in enumerate(out.hidden_states):
        arrays.append(("lora.hidden.%d" % i, h))
    arrays.append(("lora.last", out.last_hidden_state))
    loss = sum((c * R[t]).sum() for c, t in zip(cls_taps(out, L), TAPS))
    loss.backward()
    for name, p in lora_state.items():
        arrays.append(("lora.grad." + name, p.grad))

    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()
             if not k.startswith("pooler.")}
    state.update({k: v.detach().clone().contiguous() for k, v in lora_state.items()})
    save_file(state, os.path.join(ROOT, "vit_tiny_lora", "model.safetensors"), metadata={"format": "pt"})
    cfg.to_json_file(os.path.join(ROOT, "vit_tiny_lora", "config.json"))

    # 3 channels, no qkv bias, another eps: patch order (c, ky, kx) and the bias-free path
    rcfg = ViTConfig(image_size=12, patch_size=4, num_channels=3, hidden_size=24, num_hidden_layers=1,
                     num_attention_heads=3, intermediate_size=48, hidden_act="gelu", layer_norm_eps=1e-6,
                     qkv_bias=False, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    rgb = ViTModel(rcfg, add_pooling_layer=False)
    with torch.no_grad():
        for name, p in rgb.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3 + (1.0 if "layernorm" in name and name.endswith("weight") else 0.0))
    rgb.eval()
    os.makedirs(os.path.join(ROOT, "vit_rgb_nobias"), exist_ok=True)
    rgb.save_pretrained(os.path.join(ROOT, "vit_rgb_nobias"), safe_serialization=True)
    rpx = torch.randn(B, 3, 12, 12, generator=gen)
    out = rgb(pixel_values=rpx, output_hidden_states=True)
    arrays.append(("rgb.pixels", rpx))
    for i, h in enumerate(out.hidden_states):
        arrays.append(("rgb.hidden.%d" % i, h))
    arrays.append(("rgb.last", out.last_hidden_state))

    write_golden(os.path.join(ROOT, "vit_tiny.bin"), arrays)
    print("wrote %d arrays to %s" % (len(arrays), os.path.join(ROOT, "vit_tiny.bin")), file=sys.stderr)


if __name__ == "__main__":
    main()
