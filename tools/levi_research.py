#!/usr/bin/python3
"""Research prototype of LEVI on fashion-shift in PyTorch (CPU), for exploring
method variants quickly before they go into levi-cl. Same data (a byte-exact
port of the generator, tools/fashion_shift_np.py), same ViT (Hugging Face
ViTModel layout, pre-LN), same task model and adapters, same optimizer (AdamW,
grad clip 1) as levi-cl; the backbone is pretrained here (`pretrain`) or read
from a levi-cl backbone folder. Final numbers come from `levi-cl study`, not
from this script. Not needed to build or test; Debian's torch suffices:

    tools/levi_research.py pretrain --epochs 10            # backbone, cached
    tools/levi_research.py report BACKBONE                 # linear probe on pretrain-like data
    tools/levi_research.py run --backbone BACKBONE --sub invert,edges,blur \
        --variants 'scratch;late:taps=[1,4]:stack=1:lam=1:ah_g=0' --seeds 0,1,2 --epochs 6 --diag

A variant is a name of VARIANTS with :key=value overrides (JSON values) of
the Head configuration: g, taps, fusion (concat | ensemble | late),
adapter_hidden (0: linear), ah_g (the task view's adapter in late fusion),
lam (per-view loss weight), joint (0: no mixture loss), learn_w (0: equal
weights), stack (1: the mixture loss trains only the weights — levi-cl's
--fusion late), drop (view dropout), kd (distillation of the backbone view
into the task model). Every run picks its epoch (1..--epochs) by accuracy on
the validation split (--n-val images per class after the --n-train of
`train`); results are JSON lines (stdout and --log): val, test-id, test-ood
and, with --diag, test images with no shortcut (clean), only a random marker
and only a random texture. Cache: $LEVI_RESEARCH_CACHE (~/.cache/levi-research)."""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fashion_shift_np import generate, subdomain, read_idx, texture_masks, BG_THRESHOLD, TEXTURE_LEVEL  # noqa: E402

CACHE = os.environ.get("LEVI_RESEARCH_CACHE", os.path.expanduser("~/.cache/levi-research"))


def cached(name, fn):
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, name)
    if os.path.exists(path):
        return torch.load(path)
    v = fn()
    torch.save(v, path + ".tmp")
    os.replace(path + ".tmp", path)
    return v


def data(sub, seed=0):
    def make():
        d = generate(sub, seed)
        return {k: (torch.from_numpy(v[0].copy()), torch.from_numpy(v[1].copy())) for k, v in d.items()}
    return cached(f"fs-{sub}-{seed}.pt", make)


def source_test(seed=0, textured=True):
    """test[0:10000) in the source domain, with class-linked (rho 0.9) textures or clean: pretrain-like data."""
    x = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").copy()
    y = read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if textured:
        rng = np.random.default_rng(1234 + seed)
        tex = np.where(rng.random(len(y)) < 0.9, y, (y + rng.integers(1, 10, len(y))) % 10)
        m = texture_masks()[tex] & (x < BG_THRESHOLD)
        x = np.where(m, np.uint8(TEXTURE_LEVEL), x)
    return torch.from_numpy(x), torch.from_numpy(y)


def norm(x):  # uint8 (n,28,28) → float (n,1,28,28) in [-1,1]
    return ((x.float() / 255.0 - 0.5) / 0.5).unsqueeze(1)


def take_per_class(y, first, count):
    """Indices of images first..first+count-1 of each class, in index order."""
    out = []
    for c in range(10):
        idx = torch.nonzero(y == c).flatten()
        out.append(idx[first:first + count])
    return torch.cat(out).sort().values


# --- models ----------------------------------------------------------------------------------


class Block(nn.Module):
    def __init__(s, d, heads, mlp):
        super().__init__()
        s.ln1, s.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
        s.qkv = nn.Linear(d, 3 * d)
        s.proj = nn.Linear(d, d)
        s.fc1, s.fc2 = nn.Linear(d, mlp), nn.Linear(mlp, d)
        s.h = heads

    def forward(s, x):
        B, T, D = x.shape
        q, k, v = s.qkv(s.ln1(x)).view(B, T, 3, s.h, D // s.h).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // s.h), -1) @ v
        x = x + s.proj(a.transpose(1, 2).reshape(B, T, D))
        return x + s.fc2(F.gelu(s.fc1(s.ln2(x))))


class ViT(nn.Module):
    def __init__(s, dim=64, depth=4, heads=4, mlp=128, patch=7, image=28):
        super().__init__()
        s.patch = nn.Conv2d(1, dim, patch, patch)
        n = (image // patch) ** 2
        s.cls = nn.Parameter(torch.zeros(1, 1, dim))
        s.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        s.blocks = nn.ModuleList([Block(dim, heads, mlp) for _ in range(depth)])
        s.ln = nn.LayerNorm(dim, eps=1e-12)
        s.dim, s.depth = dim, depth
        for m in s.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(s, x, pool="cls"):
        """→ list of depth+1 taps (B, dim): block l's CLS (l < depth), the CLS after the final LN (l = depth).
        pool="mean": mean over patch tokens instead of the CLS token."""
        t = s.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([s.cls.expand(len(x), -1, -1), t], 1) + s.pos
        taps = []
        for b in s.blocks:
            t = b(t)
            taps.append(t[:, 0] if pool == "cls" else t[:, 1:].mean(1))
        f = s.ln(t)
        taps.append(f[:, 0] if pool == "cls" else f[:, 1:].mean(1))
        return taps


class MLP(nn.Module):  # the task model g: z = ReLU(fc2(ReLU(fc1(x))))
    def __init__(s, inp=784, h=128):
        super().__init__()
        s.fc1, s.fc2 = nn.Linear(inp, h), nn.Linear(h, h)

    def forward(s, x):
        return F.relu(s.fc2(F.relu(s.fc1(x.flatten(1)))))


def adapter(inp, hidden, out=10):
    return nn.Linear(inp, out) if hidden == 0 else nn.Sequential(nn.Linear(inp, hidden), nn.GELU(), nn.Linear(hidden, out))


class Head(nn.Module):
    """Every method on (tap features, pixels). cfg keys:
      g: 0/1 task model; taps: list of tap indices; fusion: concat|ensemble|late;
      adapter_hidden (0 = linear); lam (per-view loss weight); drop (view-dropout prob)."""

    def __init__(s, cfg, D):
        super().__init__()
        s.c = cfg
        s.g = MLP(784, cfg.get("hz", 128)) if cfg["g"] else None
        hz = cfg.get("hz", 128) if cfg["g"] else 0
        k = len(cfg["taps"])
        ah = cfg.get("adapter_hidden", 128)
        if cfg["fusion"] == "concat":
            s.ad = nn.ModuleList([adapter(k * D + hz, ah)])
        elif cfg["fusion"] == "ensemble":  # one adapter per tap on [h_l; z]
            s.ad = nn.ModuleList([adapter(D + hz, ah) for _ in range(k)])
            s.alpha = nn.Parameter(torch.zeros(k))
        elif cfg["fusion"] == "late":  # one adapter per view: the backbone taps (together), and z alone
            s.ad = nn.ModuleList(([adapter(k * D, ah)] if k else []) + ([adapter(hz, cfg.get("ah_g", ah))] if hz else []))
            s.alpha = nn.Parameter(torch.zeros(len(s.ad)))
        else:
            raise ValueError(cfg["fusion"])

    def forward(s, feats, px, y=None):
        """feats list of (B,D) for cfg taps; → logits, loss."""
        c = s.c
        z = s.g(px) if s.g is not None else None
        B = px.shape[0]
        drop = c.get("drop", 0.0) if s.training else 0.0
        if c["fusion"] == "concat":
            parts = list(feats)
            if drop > 0 and z is not None and parts:
                # view dropout: per sample, zero the backbone block or z (never both), scale the kept one
                r = torch.rand(B, 1)
                keep_b = (r >= drop / 2).float()
                keep_z = (r < 1 - drop / 2).float()
                parts = [p * keep_b for p in parts]
                z = z * keep_z
            x = torch.cat(parts + ([z] if z is not None else []), 1)
            logits = s.ad[0](x)
            return logits, (F.cross_entropy(logits, y) if y is not None else None)
        if c["fusion"] == "ensemble":
            ls = [a(torch.cat([h, z], 1) if z is not None else h) for a, h in zip(s.ad, feats)]
        else:
            views = ([torch.cat(feats, 1)] if feats else []) + ([z] if z is not None else [])
            ls = [a(v) for a, v in zip(s.ad, views)]
        if c.get("comb") == "logprob":  # product of experts of each view's probabilities
            ls = [F.log_softmax(l, 1) for l in ls]
        w = torch.softmax(s.alpha, 0) if c.get("learn_w", 1) else torch.full((len(ls),), 1.0 / len(ls))
        if c.get("stack"):  # the weights learn from the fused loss; the views only from their own losses
            ls_used = [l.detach() for l in ls]
        else:
            ls_used = ls
        if drop > 0 and len(ls) > 1:
            keep = (torch.rand(B, len(ls)) >= drop).float()
            keep[keep.sum(1) == 0, torch.randint(len(ls), (1,))] = 1.0
            ww = w[None] * keep
            ww = ww / ww.sum(1, keepdim=True)
            logits = sum(ww[:, i:i + 1] * l for i, l in enumerate(ls_used))
        else:
            logits = sum(w[i] * l for i, l in enumerate(ls_used))
        if y is None:
            return logits, None
        loss = F.cross_entropy(logits, y) if c.get("joint", 1) else 0.0
        lam = c.get("lam", 0.5)
        if lam > 0:
            loss = loss + lam * sum(F.cross_entropy(l, y) for l in ls) / len(ls)
        kd = c.get("kd", 0.0)
        if kd > 0 and c["fusion"] == "late" and len(ls) == 2:
            # the backbone view (never saw the fine-tuning shortcut in pre-training) teaches the task model
            T = c.get("kd_t", 2.0)
            teacher = F.softmax(ls[0].detach() / T, 1)
            loss = loss + kd * T * T * F.kl_div(F.log_softmax(ls[1] / T, 1), teacher, reduction="batchmean")
        return logits, loss


# --- pretraining --------------------------------------------------------------------------------


def pretrain(args):
    torch.manual_seed(args.seed)
    d = data("invert", 0)  # pretrain split does not depend on the subdomain
    x, y = d["pretrain"]
    if args.limit:
        idx = take_per_class(y, 0, args.limit)
        x, y = x[idx], y[idx]
    arch = dict(dim=args.dim, depth=args.depth, heads=args.heads, mlp=args.mlp)
    key = f"vit-{args.dim}-{args.depth}-{args.heads}-{args.mlp}-e{args.epochs}-l{args.limit}-lr{args.lr}-wd{args.wd}-s{args.seed}"
    path = os.path.join(CACHE, key + ".pt")
    if os.path.exists(path):
        print(f"cached: {path}", file=sys.stderr)
        return path
    vit = ViT(**arch)
    head = nn.Linear(args.dim, 10)
    params = list(vit.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.wd)
    n, bs = len(y), 64
    total = args.epochs * ((n + bs - 1) // bs)
    warm = total // 20
    step, t0 = 0, time.time()
    xs = norm(x)
    for e in range(args.epochs):
        perm = torch.randperm(n)
        vit.train()
        tl = tc = 0
        for i in range(0, n, bs):
            b = perm[i:i + bs]
            lr = args.lr * (step + 1) / warm if step < warm else args.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
            for gp in opt.param_groups:
                gp["lr"] = lr
            logits = head(vit(xs[b])[-1])
            loss = F.cross_entropy(logits, y[b])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            tl += loss.item() * len(b)
            tc += (logits.argmax(1) == y[b]).sum().item()
        print(f"epoch {e + 1}: loss {tl / n:.4f} acc {tc / n:.4f} {time.time() - t0:.0f}s", file=sys.stderr)
    os.makedirs(CACHE, exist_ok=True)
    torch.save({"arch": arch, "vit": vit.state_dict(), "head": head.state_dict(), "seconds": time.time() - t0}, path)
    return path


def read_safetensors(path):
    import struct
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", f"{path}: {k} is {v['dtype']}"
        a, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + a:8 + n + e], np.float32).copy()).reshape(v["shape"])
    return out


def load_hf_vit(folder):
    """A Hugging Face ViT folder (what levi-cl pretrain writes) into this ViT (q, k, v fused)."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    t = read_safetensors(os.path.join(folder, "model.safetensors"))
    t = {k[4:] if k.startswith("vit.") else k: v for k, v in t.items()}
    vit = ViT(cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["intermediate_size"],
              cfg["patch_size"], cfg["image_size"])
    sd = {"patch.weight": t["embeddings.patch_embeddings.projection.weight"],
          "patch.bias": t["embeddings.patch_embeddings.projection.bias"],
          "cls": t["embeddings.cls_token"], "pos": t["embeddings.position_embeddings"],
          "ln.weight": t["layernorm.weight"], "ln.bias": t["layernorm.bias"]}
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        a = p + "attention.attention."
        sd[f"blocks.{i}.qkv.weight"] = torch.cat([t[a + n + ".weight"] for n in ("query", "key", "value")])
        sd[f"blocks.{i}.qkv.bias"] = torch.cat([t[a + n + ".bias"] for n in ("query", "key", "value")])
        for mine, theirs in (("proj", "attention.output.dense"), ("fc1", "intermediate.dense"), ("fc2", "output.dense"),
                             ("ln1", "layernorm_before"), ("ln2", "layernorm_after")):
            sd[f"blocks.{i}.{mine}.weight"] = t[p + theirs + ".weight"]
            sd[f"blocks.{i}.{mine}.bias"] = t[p + theirs + ".bias"]
    vit.load_state_dict(sd)
    vit.eval()
    return vit, {"arch": None, "seconds": 0}


def load_backbone(path):
    if os.path.isdir(path):
        return load_hf_vit(path)
    ck = torch.load(path)
    vit = ViT(**ck["arch"])
    vit.load_state_dict(ck["vit"])
    vit.eval()
    return vit, ck


@torch.no_grad()
def features(vit, x, pool="cls"):
    out = []
    for i in range(0, len(x), 500):
        out.append(torch.stack(vit(norm(x[i:i + 500]), pool), 1))
    return torch.cat(out)  # (n, depth+1, D)


def backbone_report(path):
    """The pretraining head on test[0:10000) in the source domain (with class-linked textures, and clean), and a
    linear probe trained on 5000 `pretrain` images (the first 500 per class) evaluated on the same."""
    vit, ck = load_backbone(path)
    res = {"backbone": os.path.basename(path.rstrip("/")), "pretrain_s": round(ck.get("seconds", 0), 1)}
    tests = {"source+texture": source_test(0, True), "source clean": source_test(0, False)}
    if "head" in ck:
        head = nn.Linear(vit.dim, 10)
        head.load_state_dict(ck["head"])
        for name, (x, y) in tests.items():
            f = features(vit, x)[:, -1]
            res[f"pretrain-head {name}"] = round((head(f).argmax(1) == y).float().mean().item() * 100, 2)
    x, y = data("invert", 0)["pretrain"]
    idx = take_per_class(y, 0, 500)
    f = features(vit, x[idx])[:, -1]
    torch.manual_seed(0)
    lp = nn.Linear(vit.dim, 10)
    opt = torch.optim.AdamW(lp.parameters(), lr=1e-2, weight_decay=0.01)
    for _ in range(100):  # full batch
        loss = F.cross_entropy(lp(f), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        for name, (x, y) in tests.items():
            res[f"lp {name}"] = round((lp(features(vit, x)[:, -1]).argmax(1) == y).float().mean().item() * 100, 2)
    return res


# --- fine-tuning runs ----------------------------------------------------------------------------


def diag_sets(sub):
    """test[0:10000) in the target domain: clean, with only a random marker, with only a random texture."""
    from fashion_shift_np import MARKER_YX
    x = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").copy()
    y = torch.from_numpy(read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    rng = np.random.default_rng(99)
    img = subdomain(sub, x)
    tex = rng.integers(0, 10, len(y))
    m = texture_masks()[tex] & (x < BG_THRESHOLD)
    textured = np.where(m, np.uint8(TEXTURE_LEVEL), img)
    marked = img.copy()
    for i, k in enumerate(rng.integers(0, 10, len(y))):
        y0, x0 = MARKER_YX[k]
        for dy in range(3):
            for dx in range(3):
                marked[i, y0 + dy, x0 + dx] = 255 if (dy + dx) % 2 == 0 else 0
    return {"clean": (torch.from_numpy(img), y), "marker": (torch.from_numpy(marked), y),
            "texture": (torch.from_numpy(textured), y)}


def split_data(sub, n_train, n_val, diag=False):
    d = data(sub, 0)
    x, y = d["train"]
    tr = take_per_class(y, 0, n_train)
    va = take_per_class(y, n_train, n_val)
    out = {"train": (x[tr], y[tr]), "val": (x[va], y[va]), "test-id": d["test-id"], "test-ood": d["test-ood"]}
    if diag:
        out.update(diag_sets(sub))
    return out


VARIANTS = {
    "scratch": dict(g=1, taps=[], fusion="concat", adapter_hidden=0),
    "lp": dict(g=0, taps=[4], fusion="concat", adapter_hidden=0),
    "ft": dict(g=0, taps=[4], fusion="concat", adapter_hidden=0, ft=1),
    "levi": dict(g=1, taps=[1, 4], fusion="concat"),
    "levi-ens": dict(g=1, taps=[1, 4], fusion="ensemble", lam=0.5),
    "late": dict(g=1, taps=[1, 4], fusion="late", lam=1.0),
    "late-drop": dict(g=1, taps=[1, 4], fusion="late", lam=1.0, drop=0.5),
    "concat-drop": dict(g=1, taps=[1, 4], fusion="concat", drop=0.5),
}


def run_one(cfg, sets, feats, vit_path, seed, lr, wd, epochs, bs=64):
    torch.manual_seed(seed)
    D = feats["train"].shape[-1]
    head = Head(cfg, D)
    vit = None
    params = list(head.parameters())
    if cfg.get("ft"):
        vit, _ = load_backbone(vit_path)
        vit.train()
        params += list(vit.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    taps = cfg["taps"]
    x, y = sets["train"]
    xs = norm(x)
    n = len(y)
    curve = []

    def evaluate(split):
        head.eval()
        xx, yy = sets[split]
        correct = 0
        with torch.no_grad():
            for i in range(0, len(yy), 1000):
                px = norm(xx[i:i + 1000])
                if vit is not None:
                    vit.eval()
                    ff = vit(px)
                    fl = [ff[t] for t in taps]
                else:
                    fl = [feats[split][i:i + 1000, t] for t in taps]
                lg, _ = head(fl, px)
                correct += (lg.argmax(1) == yy[i:i + 1000]).sum().item()
        head.train()
        return correct / len(yy) * 100

    g = torch.Generator().manual_seed(seed)
    for e in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, bs):
            b = perm[i:i + bs]
            if vit is not None:
                vit.train()
                ff = vit(xs[b])
                fl = [ff[t] for t in taps]
            else:
                fl = [feats["train"][b, t] for t in taps]
            _, loss = head(fl, xs[b], y[b])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        curve.append({s: evaluate(s) for s in sets if s != "train"})
    return curve


def run(args):
    vit_path = args.backbone
    vit, _ = load_backbone(vit_path)
    out = open(args.log, "a") if args.log else None
    for sub in args.sub.split(","):
        sets = split_data(sub, args.n_train, args.n_val, args.diag)
        pool = args.pool
        feats = {k: features(vit, v[0], pool) for k, v in sets.items()}
        for name in args.variants.split(";" if ";" in args.variants else ","):
            base = name.split(":")[0]
            cfg = dict(VARIANTS[base])
            for kv in name.split(":")[1:]:  # overrides: name:key=value
                k, v = kv.split("=")
                cfg[k] = json.loads(v)
            for lr in [float(v) for v in args.lrs.split(",")]:
                for wd in [float(v) for v in args.wds.split(",")]:
                    for seed in [int(s) for s in args.seeds.split(",")]:
                        t0 = time.time()
                        lr_used = lr * args.ft_lr_scale if cfg.get("ft") else lr
                        curve = run_one(cfg, sets, feats, vit_path, seed, lr_used, wd, args.epochs)
                        best = max(range(len(curve)), key=lambda i: (curve[i]["val"], -i))
                        r = {"sub": sub, "variant": name, "lr": lr_used, "wd": wd, "seed": seed, "best_epoch": best + 1,
                             **{k: round(v, 2) for k, v in curve[best].items()},
                             "last": {k: round(v, 2) for k, v in curve[-1].items()},
                             "backbone": os.path.basename(vit_path), "pool": pool, "n_train": args.n_train,
                             "secs": round(time.time() - t0, 1)}
                        line = json.dumps(r)
                        print(line, flush=True)
                        if out:
                            out.write(line + "\n")
                            out.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="cmd", required=True)
    p = sp.add_parser("pretrain")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--wd", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    r = sp.add_parser("run")
    r.add_argument("--backbone", required=True)
    r.add_argument("--sub", default="invert")
    r.add_argument("--variants", default="scratch,levi")
    r.add_argument("--seeds", default="0")
    r.add_argument("--lrs", default="1e-3")
    r.add_argument("--wds", default="0.01")
    r.add_argument("--ft-lr-scale", type=float, default=0.3)
    r.add_argument("--epochs", type=int, default=3)
    r.add_argument("--n-train", type=int, default=500)
    r.add_argument("--n-val", type=int, default=100)
    r.add_argument("--pool", default="cls")
    r.add_argument("--diag", action="store_true", help="also evaluate on clean / marker-only / texture-only tests")
    r.add_argument("--log")
    b = sp.add_parser("report")
    b.add_argument("backbone")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.cmd == "pretrain":
        path = pretrain(a)
        print(json.dumps(backbone_report(path)))
    elif a.cmd == "run":
        run(a)
    else:
        print(json.dumps(backbone_report(a.backbone)))


if __name__ == "__main__":
    main()
