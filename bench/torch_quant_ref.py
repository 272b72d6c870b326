#!/usr/bin/python3
"""PyTorch reference for bench/quant-vs-torch.ts: the SAME weights (exported from the ONNX model
as raw float32 + a JSON manifest), quantized with PyTorch's own int8:
  cnn          static int8 (torch.ao.quantization, engine onednn), calibrated on the same images
  transformer  dynamic int8 on the nn.Linear layers (torch.ao.quantization.quantize_dynamic)
Prints one JSON document: latency (median ms) per variant, thread count and batch size, plus the
logits needed for accuracy / agreement (written next to the weights as .npy files).
Usage: /usr/bin/python3 bench/torch_quant_ref.py cnn|transformer WEIGHTS_BASE OUT_DIR THREADS BATCHES [RUNS]
"""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load(base):
    man = json.load(open(base + ".json"))
    flat = np.fromfile(base + ".bin", dtype=np.float32)
    t = {}
    for name, e in man["tensors"].items():
        n = int(np.prod(e["shape"])) if e["shape"] else 1
        t[name] = torch.from_numpy(flat[e["offset"]:e["offset"] + n].reshape(e["shape"]).copy())
    return man, t


class Cnn(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.dequant = torch.ao.quantization.DeQuantStub()
        c1, c2 = w["conv1.weight"], w["conv2.weight"]
        self.conv1 = nn.Conv2d(c1.shape[1], c1.shape[0], 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c2.shape[1], c2.shape[0], 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(w["fc1.weight"].shape[1], w["fc1.weight"].shape[0])
        self.relu3 = nn.ReLU()
        self.head = nn.Linear(w["head.weight"].shape[1], w["head.weight"].shape[0])
        with torch.no_grad():
            for name in ["conv1", "conv2", "fc1", "head"]:
                getattr(self, name).weight.copy_(w[name + ".weight"])
                getattr(self, name).bias.copy_(w[name + ".bias"])

    def forward(self, x):
        x = self.quant(x)
        x = self.pool(self.relu1(self.conv1(x)))
        x = self.pool(self.relu2(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.relu3(self.fc1(x))
        return self.dequant(self.head(x))


class Block(nn.Module):
    def __init__(self, w, p, dim, heads, mlp):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim, eps=1e-5)
        self.ln2 = nn.LayerNorm(dim, eps=1e-5)
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.up = nn.Linear(dim, mlp)
        self.down = nn.Linear(mlp, dim)
        with torch.no_grad():
            for ln in ["ln1", "ln2"]:
                getattr(self, ln).weight.copy_(w[f"{p}.{ln}.weight"])
                getattr(self, ln).bias.copy_(w[f"{p}.{ln}.bias"])
            for mod, key in [("q", "attn.q"), ("k", "attn.k"), ("v", "attn.v"), ("o", "attn.o"), ("up", "mlp.up"), ("down", "mlp.down")]:
                getattr(self, mod).weight.copy_(w[f"{p}.{key}.weight"].t())  # ONNX MatMul B is [in, out]
                getattr(self, mod).bias.copy_(w[f"{p}.{key}.bias"])

    def forward(self, x):
        B, T, D = x.shape
        dh = D // self.heads
        h = self.ln1(x)
        q = self.q(h).view(B, T, self.heads, dh).transpose(1, 2)
        k = self.k(h).view(B, T, self.heads, dh).permute(0, 2, 3, 1)
        v = self.v(h).view(B, T, self.heads, dh).transpose(1, 2)
        a = torch.softmax((q @ k) * (1.0 / math.sqrt(dh)), dim=-1)
        ctx = (a @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.o(ctx)
        u = self.up(self.ln2(x))
        return x + self.down(F.gelu(u))


class Transformer(nn.Module):
    def __init__(self, w, spec):
        super().__init__()
        D = spec["dim"]
        self.embed = nn.Embedding(spec["vocab"], D)
        self.pos = nn.Parameter(w["pos.weight"].clone())
        self.blocks = nn.ModuleList(Block(w, f"block{i}", D, spec["heads"], spec["mlp"]) for i in range(spec["blocks"]))
        self.ln_f = nn.LayerNorm(D, eps=1e-5)
        self.head = nn.Linear(D, spec["classes"])
        with torch.no_grad():
            self.embed.weight.copy_(w["embed.weight"])
            self.ln_f.weight.copy_(w["ln_f.weight"])
            self.ln_f.bias.copy_(w["ln_f.bias"])
            self.head.weight.copy_(w["head.weight"].t())
            self.head.bias.copy_(w["head.bias"])

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x).mean(dim=1))


def median_ms(fn, runs, warmup=3, max_seconds=8.0):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < runs or (time.perf_counter() - start < 0.5 and len(times) < 2000):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() - start > max_seconds and len(times) >= 5:
            break
    return float(np.median(times))


def main():
    kind, base, out_dir, threads, batches = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), [int(b) for b in sys.argv[5].split(",")]
    runs = int(sys.argv[6]) if len(sys.argv) > 6 else 30
    torch.set_num_threads(threads)
    man, w = load(base)
    result = {"torch": torch.__version__, "threads": threads, "latencyMs": {}, "engine": None}
    with torch.no_grad():
        if kind == "cnn":
            torch.backends.quantized.engine = "onednn"
            result["engine"] = "onednn"
            fp = Cnn(w).eval()
            calib = torch.from_numpy(np.fromfile(base + ".calib.bin", dtype=np.float32).reshape(-1, 1, 28, 28))
            test = torch.from_numpy(np.fromfile(base + ".test.bin", dtype=np.float32).reshape(-1, 1, 28, 28))
            q = Cnn(w).eval()
            q = torch.ao.quantization.fuse_modules(q, [["conv1", "relu1"], ["conv2", "relu2"], ["fc1", "relu3"]])
            q.qconfig = torch.ao.quantization.get_default_qconfig("onednn")
            torch.ao.quantization.prepare(q, inplace=True)
            for i in range(0, calib.shape[0], 64):
                q(calib[i:i + 64])
            torch.ao.quantization.convert(q, inplace=True)
            models = {"fp32": fp, "int8": q}
            for name, m in models.items():
                logits = torch.cat([m(test[i:i + 500]) for i in range(0, test.shape[0], 500)]).numpy()
                np.save(f"{out_dir}/torch-cnn-{name}.npy", logits)
                for b in batches:
                    x = test[:b].contiguous()
                    result["latencyMs"][f"{name}/b{b}"] = median_ms(lambda: m(x), runs)
        else:
            spec = man["spec"]
            fp = Transformer(w, spec).eval()
            q = torch.ao.quantization.quantize_dynamic(Transformer(w, spec).eval(), {nn.Linear}, dtype=torch.qint8)
            result["engine"] = torch.backends.quantized.engine
            tokens = torch.from_numpy(np.fromfile(base + ".tokens.bin", dtype=np.int64).reshape(-1, spec["tokens"]))
            for name, m in {"fp32": fp, "int8": q}.items():
                np.save(f"{out_dir}/torch-transformer-{name}.npy", m(tokens).numpy())
                for b in batches:
                    x = tokens[:b].contiguous()
                    result["latencyMs"][f"{name}/b{b}"] = median_ms(lambda: m(x), runs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
