#!/usr/bin/python3
"""Write tests/fixtures/levi_{concat,ensemble,cnn,late}.bin: a whole LEVI model
(tiny Hugging Face-style ViT backbone read at taps + task model g + adapters)
computed by plain PyTorch, forward loss and the gradients of every trainable
parameter (the backbone is frozen, as in method `levi`).

    h_l  = CLS token of block l's output (l < depth) or after the final LN (l = depth)
    z    = g(x)      mlp: ReLU(fc2(ReLU(fc1(flat x))))
                     cnn: two conv3x3(pad 1)-ReLU-maxpool2 stages, flatten, ReLU(fc)
    concat   : logits = A([h_l1; h_l2; z])                      A = fc2(GELU(fc1(.)))
    ensemble : logits = sum_l softmax(alpha)_l A_l([h_l; z])
               loss = CE(logits) + lambda * mean_l CE(A_l([h_l; z]))
    late     : views A_0([h_l1; h_l2]) and A_1(z) (A_1 one Linear), mixed by softmax(alpha);
               loss = CE(sum_v w_v stopgrad(A_v)) + lambda * mean_v CE(A_v): the views
               learn from their own losses only, alpha from the mixture's

Everything runs in float64 from float32-rounded inputs; arrays are stored as
float32. Names match levi-cl's model files ("backbone.*", "head.*"); the input
is "x" (B,C,H,W, already normalized), "labels" (B), "loss" (1), "logits"
(B,K), and "grad.<name>" for every head parameter. Not needed to build or
test (fixtures are committed). Run with Debian's torch:

    /usr/bin/python3 tools/golden_levi.py [tests/fixtures]

File format (little-endian, read by tests/golden.c):
    b"LEVIGLD1", u32 version (1), u32 count,
    count x [u32 name_len, name, u32 ndim, u32 dims[ndim], float32 data]
"""
import math
import os
import sys

import torch

from golden_format import write_golden

F = torch.nn.functional

# the tiny configuration; tests/test_levi.c hard-codes the same numbers
B, C, IMG, P, D, DEPTH, NH, MLP = 5, 1, 8, 4, 16, 2, 2, 32
EPS = 1e-12
K = 3            # classes
HZ = 12          # task model features
AH = 10          # adapter hidden
TAPS = [0, 2]    # block 0's output and the CLS token after the final layernorm
LAMBDA = 0.5
CNN1, CNN2 = 4, 6
SEED = 4321


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    g = torch.Generator().manual_seed(SEED)

    def rnd(*shape, scale=1.0):
        return ((torch.rand(*shape, generator=g) * 2 - 1) * scale).float().double()

    T = 1 + (IMG // P) ** 2
    bb = {
        "embeddings.cls_token": rnd(1, 1, D, scale=0.5),
        "embeddings.position_embeddings": rnd(1, T, D, scale=0.5),
        "embeddings.patch_embeddings.projection.weight": rnd(D, C, P, P, scale=1.0 / math.sqrt(C * P * P)),
        "embeddings.patch_embeddings.projection.bias": rnd(D, scale=0.1),
        "layernorm.weight": 1 + rnd(D, scale=0.2),
        "layernorm.bias": rnd(D, scale=0.2),
    }
    for i in range(DEPTH):
        p = "encoder.layer.%d." % i
        s = 1.0 / math.sqrt(D)
        bb[p + "layernorm_before.weight"] = 1 + rnd(D, scale=0.2)
        bb[p + "layernorm_before.bias"] = rnd(D, scale=0.2)
        for n in ("query", "key", "value"):
            bb[p + "attention.attention.%s.weight" % n] = rnd(D, D, scale=s)
            bb[p + "attention.attention.%s.bias" % n] = rnd(D, scale=0.1)
        bb[p + "attention.output.dense.weight"] = rnd(D, D, scale=s)
        bb[p + "attention.output.dense.bias"] = rnd(D, scale=0.1)
        bb[p + "layernorm_after.weight"] = 1 + rnd(D, scale=0.2)
        bb[p + "layernorm_after.bias"] = rnd(D, scale=0.2)
        bb[p + "intermediate.dense.weight"] = rnd(MLP, D, scale=s)
        bb[p + "intermediate.dense.bias"] = rnd(MLP, scale=0.1)
        bb[p + "output.dense.weight"] = rnd(D, MLP, scale=1.0 / math.sqrt(MLP))
        bb[p + "output.dense.bias"] = rnd(D, scale=0.1)

    x = rnd(B, C, IMG, IMG)
    labels = torch.tensor([0, 2, 1, 2, 0], dtype=torch.float64)
    y = labels.long()

    def vit_taps(x):
        W = bb
        e = F.conv2d(x, W["embeddings.patch_embeddings.projection.weight"],
                     W["embeddings.patch_embeddings.projection.bias"], stride=P)
        e = e.flatten(2).transpose(1, 2)
        h = torch.cat([W["embeddings.cls_token"].expand(B, 1, D), e], 1) + W["embeddings.position_embeddings"]
        outs = []
        hs = D // NH
        for i in range(DEPTH):
            p = "encoder.layer.%d." % i
            a = F.layer_norm(h, (D,), W[p + "layernorm_before.weight"], W[p + "layernorm_before.bias"], EPS)
            q, k, v = (F.linear(a, W[p + "attention.attention.%s.weight" % n], W[p + "attention.attention.%s.bias" % n])
                       .view(B, T, NH, hs).transpose(1, 2) for n in ("query", "key", "value"))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hs), -1)
            ctx = (att @ v).transpose(1, 2).reshape(B, T, D)
            h = h + F.linear(ctx, W[p + "attention.output.dense.weight"], W[p + "attention.output.dense.bias"])
            a = F.layer_norm(h, (D,), W[p + "layernorm_after.weight"], W[p + "layernorm_after.bias"], EPS)
            m = F.gelu(F.linear(a, W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"]))
            h = h + F.linear(m, W[p + "output.dense.weight"], W[p + "output.dense.bias"])
            outs.append(h[:, 0])
        outs.append(F.layer_norm(h, (D,), W["layernorm.weight"], W["layernorm.bias"], EPS)[:, 0])
        return [outs[t] for t in TAPS]

    with torch.no_grad():
        taps = vit_taps(x)

    def linear(name, i, o):
        s = 1.0 / math.sqrt(i)
        return [(name + ".weight", rnd(o, i, scale=s)), (name + ".bias", rnd(o, scale=s))]

    def build(fusion, task):
        head = []
        if task == "mlp":
            head += linear("g.fc1", C * IMG * IMG, HZ) + linear("g.fc2", HZ, HZ)
        else:
            head += [("g.conv1.weight", rnd(CNN1, C, 3, 3, scale=1 / 3.0)), ("g.conv1.bias", rnd(CNN1, scale=0.1)),
                     ("g.conv2.weight", rnd(CNN2, CNN1, 3, 3, scale=1 / math.sqrt(9 * CNN1))),
                     ("g.conv2.bias", rnd(CNN2, scale=0.1))]
            head += linear("g.fc", CNN2 * (IMG // 4) ** 2, HZ)
        if fusion == "concat":
            head += linear("adapter0.fc1", len(TAPS) * D + HZ, AH) + linear("adapter0.fc2", AH, K)
        elif fusion == "late":
            head += linear("adapter0.fc1", len(TAPS) * D, AH) + linear("adapter0.fc2", AH, K)
            head += linear("adapter1.fc1", HZ, K)
            head += [("alpha", rnd(2, scale=0.7))]
        else:
            for l in range(len(TAPS)):
                head += linear("adapter%d.fc1" % l, D + HZ, AH) + linear("adapter%d.fc2" % l, AH, K)
            head += [("alpha", rnd(len(TAPS), scale=0.7))]
        P_ = {n: t.clone().requires_grad_(True) for n, t in head}

        if task == "mlp":
            z = F.relu(F.linear(x.flatten(1), P_["g.fc1.weight"], P_["g.fc1.bias"]))
            z = F.relu(F.linear(z, P_["g.fc2.weight"], P_["g.fc2.bias"]))
        else:
            c = F.max_pool2d(F.relu(F.conv2d(x, P_["g.conv1.weight"], P_["g.conv1.bias"], padding=1)), 2)
            c = F.max_pool2d(F.relu(F.conv2d(c, P_["g.conv2.weight"], P_["g.conv2.bias"], padding=1)), 2)
            z = F.relu(F.linear(c.flatten(1), P_["g.fc.weight"], P_["g.fc.bias"]))

        def A(i, inp):
            h = F.gelu(F.linear(inp, P_["adapter%d.fc1.weight" % i], P_["adapter%d.fc1.bias" % i]))
            return F.linear(h, P_["adapter%d.fc2.weight" % i], P_["adapter%d.fc2.bias" % i])

        if fusion == "concat":
            logits = A(0, torch.cat(taps + [z], 1))
            loss = F.cross_entropy(logits, y)
        elif fusion == "late":
            w = torch.softmax(P_["alpha"], 0)
            ls = [A(0, torch.cat(taps, 1)), F.linear(z, P_["adapter1.fc1.weight"], P_["adapter1.fc1.bias"])]
            logits = sum(w[v] * ls[v].detach() for v in range(2))
            loss = F.cross_entropy(logits, y) + LAMBDA * sum(F.cross_entropy(t, y) for t in ls) / 2
            logits = sum(w[v] * ls[v] for v in range(2))
        else:
            w = torch.softmax(P_["alpha"], 0)
            ls = [A(l, torch.cat([taps[l], z], 1)) for l in range(len(TAPS))]
            logits = sum(w[l] * ls[l] for l in range(len(TAPS)))
            aux = sum(F.cross_entropy(t, y) for t in ls) / len(TAPS)
            loss = F.cross_entropy(logits, y) + LAMBDA * aux
        loss.backward()
        arrays = [("backbone." + n, t) for n, t in bb.items()]
        arrays += [("head." + n, t) for n, t in head]
        arrays += [("x", x), ("labels", labels), ("loss", loss.detach().reshape(1)), ("logits", logits.detach())]
        arrays += [("grad.head." + n, P_[n].grad) for n, _ in head]
        return arrays

    for fusion, task, name in (("concat", "mlp", "levi_concat.bin"), ("ensemble", "mlp", "levi_ensemble.bin"),
                               ("concat", "cnn", "levi_cnn.bin"), ("late", "mlp", "levi_late.bin")):
        arrays = build(fusion, task)
        path = os.path.join(out_dir, name)
        write_golden(path, arrays)
        loss = [t for n, t in arrays if n == "loss"][0].item()
        print("wrote %s (%d arrays, loss %.6f)" % (path, len(arrays), loss))


if __name__ == "__main__":
    main()
