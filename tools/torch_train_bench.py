#!/usr/bin/python3
"""PyTorch reference for `levi-cl bench train`: the same training steps at the
same sizes, FP32 (TF32 off), on the CPU with the same thread count or on a
CUDA GPU, eager or with the whole step captured once in a CUDA graph and
replayed, written as a levi-cl bench results document (group "train", the
same row names), so that

    levi-cl bench --compare torch_train.json levi_train.json

prints levi-cl / PyTorch ratios.

Models (as levi-cl's --model; Hugging Face ViTModel's computation: pre-LN,
exact GELU, LayerNorm eps 1e-12, CLS token), random weights, 10 classes:
  vit-tiny  the demo's: image 28, patch 7, 1 channel, dim 64, depth 4,
            heads 4, mlp 128 (default, batch 64)
  vit-s16   image 224, patch 16, 3 channels, dim 384, depth 12, heads 6, mlp 1536
  vit-b16   image 224, patch 16, 3 channels, dim 768, depth 12, heads 12, mlp 3072
  ft    : every backbone weight trainable, linear head on the final CLS.
  lora  : frozen backbone, LoRA rank 4 (scale 1) on query and value, linear head.
  levi  : frozen backbone read at taps {depth/2-1, depth} (CLS after that
          block, CLS after the final LayerNorm), task model MLP C*H*W-128-128
          (ReLU), concat -> adapter Linear(2*dim+128,128)-GELU-Linear(128,10);
          with the feature cache the tap features are computed once, before
          timing.
One step: zero_grad, forward, cross-entropy, backward, clip_grad_norm_(1.0),
AdamW(lr 1e-3, wd 0.01) — what levi-cl's trainer does per batch (levi-cl's
step also uploads the batch; here it stays on the device).

Usage: /usr/bin/python3 tools/torch_train_bench.py [--model M] [--batch N]
         [--device cpu|cuda] [--cuda-graph] [--budget S] [--threads N] [--out FILE]
(Debian's python3-torch 1.13 for the CPU; a CUDA build of PyTorch for --device cuda.)
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

# OpenMP threads that spin while waiting for work collapse when the cores are
# shared with other processes (measured: 8 instead of ~400 samples/s for ft on
# a busy 2-core machine). Passive waiting, unless the caller chose otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MODELS = {  # image, patch, channels, dim, depth, heads, mlp
    "vit-tiny": (28, 7, 1, 64, 4, 4, 128),
    "vit-s16": (224, 16, 3, 384, 12, 6, 1536),
    "vit-b16": (224, 16, 3, 768, 12, 12, 3072),
}
B, CLASSES = 64, 10
IMG, PATCH, CH, DIM, DEPTH, HEADS, MLP = MODELS["vit-tiny"]
DEVICE = torch.device("cpu")


def set_model(name, batch):
    global IMG, PATCH, CH, DIM, DEPTH, HEADS, MLP, B
    IMG, PATCH, CH, DIM, DEPTH, HEADS, MLP = MODELS[name]
    B = batch


class LoRALinear(nn.Module):
    def __init__(self, base, rank):
        super().__init__()
        self.base = base
        self.A = nn.Parameter(torch.randn(rank, base.in_features) * 0.01)
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x):
        return self.base(x) + (x @ self.A.t()) @ self.B.t()


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(DIM, eps=1e-12)
        self.q, self.k, self.v = nn.Linear(DIM, DIM), nn.Linear(DIM, DIM), nn.Linear(DIM, DIM)
        self.proj = nn.Linear(DIM, DIM)
        self.ln2 = nn.LayerNorm(DIM, eps=1e-12)
        self.fc1, self.fc2 = nn.Linear(DIM, MLP), nn.Linear(MLP, DIM)

    def forward(self, x):
        b, t, c = x.shape
        h = self.ln1(x)
        hs = c // HEADS
        q = self.q(h).view(b, t, HEADS, hs).transpose(1, 2)
        k = self.k(h).view(b, t, HEADS, hs).transpose(1, 2)
        v = self.v(h).view(b, t, HEADS, hs).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / hs ** 0.5, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(CH, DIM, PATCH, PATCH)
        n = (IMG // PATCH) ** 2
        self.cls = nn.Parameter(torch.randn(1, 1, DIM) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, n + 1, DIM) * 0.02)
        self.blocks = nn.ModuleList(Block() for _ in range(DEPTH))
        self.ln = nn.LayerNorm(DIM, eps=1e-12)

    def forward(self, x, taps):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        out = []
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i in taps:
                out.append(x[:, 0])
        if DEPTH in taps:
            out.append(self.ln(x)[:, 0])
        return out


def make(method):
    torch.manual_seed(1)
    vit = ViT()
    head = g = adapter = None
    if method == "ft":
        head = nn.Linear(DIM, CLASSES)
        params = list(vit.parameters()) + list(head.parameters())

        def fwd(x, feats):
            return head(vit(x, {DEPTH})[0])
    elif method == "lora":
        for p in vit.parameters():
            p.requires_grad_(False)
        for blk in vit.blocks:
            blk.q, blk.v = LoRALinear(blk.q, 4), LoRALinear(blk.v, 4)
        head = nn.Linear(DIM, CLASSES)
        params = [p for p in vit.parameters() if p.requires_grad] + list(head.parameters())

        def fwd(x, feats):
            return head(vit(x, {DEPTH})[0])
    else:
        for p in vit.parameters():
            p.requires_grad_(False)
        g = nn.Sequential(nn.Flatten(), nn.Linear(IMG * IMG * CH, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU())
        adapter = nn.Sequential(nn.Linear(2 * DIM + 128, 128), nn.GELU(), nn.Linear(128, CLASSES))
        params = list(g.parameters()) + list(adapter.parameters())

        taps = {max(DEPTH // 2 - 1, 0), DEPTH}

        def fwd(x, feats):
            if feats is None:
                with torch.no_grad():
                    feats = torch.cat(vit(x, taps), 1)
            return adapter(torch.cat([feats, g(x)], 1))
    taps = {max(DEPTH // 2 - 1, 0), DEPTH}
    feats_fn = lambda x: torch.cat(vit(x, taps), 1)  # noqa: E731
    for mod in (vit, head, g, adapter):
        if mod is not None:
            mod.to(DEVICE)  # in place: the parameter lists above stay valid
    return fwd, params, feats_fn


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def time_rows(budget, model, graph):
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(B, CH, IMG, IMG, generator=gen) * 2 - 1).to(DEVICE)
    y = (torch.arange(B) % CLASSES).to(DEVICE)
    suffix = " b%d" % B if model == "vit-tiny" else " %s b%d" % (model, B)
    rows = [("ft (full fine-tuning)", "ft", False), ("lora r4", "lora", False),
            ("levi concat, no feature cache", "levi", False), ("levi concat, feature cache", "levi", True)]
    results = []
    for name, method, cache in rows:
        name += suffix
        fwd, params, feats_fn = make(method)
        # capturable: the optimizer's step count stays on the device (no sync, graph-safe)
        opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01, capturable=graph)
        feats = None
        if cache:
            with torch.no_grad():
                feats = feats_fn(x)

        def step():
            opt.zero_grad(set_to_none=False)
            loss = F.cross_entropy(fwd(x, feats), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()

        run = step
        if graph:
            # warm up on a side stream, then capture the whole step once and replay it
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    step()
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                step()
            run = g.replay
        run()  # warm-up
        sync()
        t0 = time.perf_counter()
        run()
        sync()
        one = max(time.perf_counter() - t0, 1e-7)
        reps = min(int(2e-3 / one) + 1, 1000)
        samples = max(3, min(200, int(budget / len(rows) / (one * reps))))
        ts = []
        for _ in range(samples):
            a = time.perf_counter()
            for _ in range(reps):
                run()
            sync()
            ts.append((time.perf_counter() - a) / reps)
        ts.sort()
        med = statistics.median(ts)
        results.append({"group": "train", "name": name, "unit": "samples/s", "higher_is_better": True,
                        "value": B / med, "best": B / ts[0], "median_s": med, "min_s": ts[0], "max_s": ts[-1],
                        "samples": samples, "reps": reps})
        print("%-44s %10.2f samples/s (median of %d)" % (name, B / med, samples), file=sys.stderr)
    return results


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    global DEVICE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="vit-tiny", help="model size (default vit-tiny)")
    ap.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--cuda-graph", action="store_true", help="capture each step once in a CUDA graph and replay it")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds for all rows (default 20)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--out", help="write the JSON here (atomically) instead of stdout")
    a = ap.parse_args()
    if a.budget <= 0 or a.threads < 1 or a.batch < 1:
        ap.error("--budget must be > 0, --threads and --batch >= 1")
    if a.cuda_graph and a.device != "cuda":
        ap.error("--cuda-graph needs --device cuda")
    if a.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: this PyTorch sees no CUDA device")
    DEVICE = torch.device(a.device)
    set_model(a.model, a.batch)
    torch.set_num_threads(a.threads)
    # FP32 on both sides: no TF32 in matmuls or convolutions
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if a.device == "cuda":
        dev = torch.cuda.get_device_name(0)
        name = "PyTorch %s CUDA %s on %s%s" % (torch.__version__, torch.version.cuda, dev,
                                              ", CUDA graph" if a.cuda_graph else "")
        units = torch.cuda.get_device_properties(0).multi_processor_count
    else:
        name, units = "PyTorch %s CPU on %s" % (torch.__version__, cpu_name()), a.threads
    doc = {"format": "levi-cl bench", "version": 1, "tool": "torch_train_bench.py",
           "device": {"name": name, "vendor": "PyTorch", "driver": torch.__version__, "compute_units": units},
           "model": a.model, "batch": a.batch, "cuda_graph": a.cuda_graph, "tf32": False,
           "threads": a.threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "budget_s": a.budget,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "results": time_rows(a.budget, a.model, a.cuda_graph)}
    text = json.dumps(doc, indent=2) + "\n"
    if not a.out:
        sys.stdout.write(text)
        return
    d = os.path.dirname(os.path.abspath(a.out))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".torch_bench.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
