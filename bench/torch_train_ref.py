#!/usr/bin/python3
"""PyTorch reference for Distillery's ONNX train step (bench/train-vs-torch.ts, test/unit/train-*.test.ts,
bench/train-distill.ts). The students are the templates of app/engine/distill/students.ts:
  mlp:H1,..      Flatten, (Linear, ReLU)*, Linear
  cnn:C1,../F    (Conv3x3 pad 1, ReLU, MaxPool 2)*, Flatten, Linear F, ReLU, Linear
with the same parameter names (conv1.weight, fc1.bias, head.weight, ...).
Loss (same as app/engine/training/train-step.ts):
  alpha*T^2*KL(p_teacher || softmax(s/T)) (batch mean) + (1-alpha)*CE(s, y) (mean over labelled rows)

Modes (all exchange raw little-endian float32/int32 files described by a JSON spec):
  bench   SPEC        time Adam steps; prints {"msPerStep": ...}
  step    SPEC        K Adam/AdamW steps from given weights; writes the new weights; prints JSON
  distill SPEC        a full training run (recipe in the spec); prints test accuracy etc.
"""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def linear_blas(h, w, b):
    return F.linear(h, w, b)


def linear_dnnl(h, w, b):
    # The same product as a 1x1 convolution, which PyTorch runs with oneDNN. Debian's PyTorch
    # build has BLAS_INFO=generic (reference BLAS), which makes F.linear about 10x slower.
    return F.conv2d(h[:, :, None, None], w[:, :, None, None], b).flatten(1)


def build(template, weights, linear_mode='blas'):
    """Returns (params dict name->Parameter, forward(x))."""
    lin = linear_dnnl if linear_mode == 'dnnl' else linear_blas
    params = {k: torch.nn.Parameter(torch.from_numpy(np.array(v, dtype=np.float32)).clone()) for k, v in weights.items()}
    kind, rest = template.split(':', 1)
    if kind == 'mlp':
        n = len(rest.split(','))

        def fwd(x):
            h = x.flatten(1)
            for i in range(1, n + 1):
                h = F.relu(lin(h, params[f'fc{i}.weight'], params[f'fc{i}.bias']))
            return lin(h, params['head.weight'], params['head.bias'])
    else:
        convs = len(rest.split('/')[0].split(','))

        def fwd(x):
            h = x
            for i in range(1, convs + 1):
                h = F.max_pool2d(F.relu(F.conv2d(h, params[f'conv{i}.weight'], params[f'conv{i}.bias'], padding=1)), 2)
            h = F.relu(lin(h.flatten(1), params['fc1.weight'], params['fc1.bias']))
            return lin(h, params['head.weight'], params['head.bias'])
    return params, fwd


def kd_loss(logits, probs, onehot, T, alpha):
    logq = F.log_softmax(logits / T, dim=1)
    kl = (probs * (torch.log(probs.clamp_min(1e-30)) - logq)).sum() / logits.shape[0]
    labelled = onehot.sum(1, keepdim=True)
    n_lab = labelled.sum().clamp_min(1.0)
    ce = -(onehot * F.log_softmax(logits, dim=1)).sum() / n_lab
    return alpha * T * T * kl + (1 - alpha) * ce


def load_f32(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(shape))


def load_weights(spec):
    raw = np.fromfile(spec['weightsFile'], dtype=np.float32)
    out, off = {}, 0
    for name, dims in spec['weightShapes']:
        n = int(np.prod(dims))
        out[name] = raw[off:off + n].reshape(dims)
        off += n
    return out


def make_optimizer(params, spec):
    # AdamW with decay on the >1-D weights only (as train-step.ts); weightDecay 0 = plain Adam.
    wd = spec.get('weightDecay', 0.0)
    decay = [p for p in params.values() if p.dim() > 1]
    no_decay = [p for p in params.values() if p.dim() <= 1]
    groups = [{'params': decay, 'weight_decay': wd}, {'params': no_decay, 'weight_decay': 0.0}]
    if wd > 0:
        return torch.optim.AdamW(groups, lr=spec['lr'], betas=(0.9, 0.999), eps=1e-8)
    return torch.optim.Adam(list(params.values()), lr=spec['lr'], betas=(0.9, 0.999), eps=1e-8)


def mode_bench(spec):
    torch.set_num_threads(spec['threads'])
    torch.set_num_interop_threads(1)
    B, nb, C = spec['batchSize'], spec['batches'], spec['classes']
    x = load_f32(spec['xFile'], [nb, B] + spec['sampleShape'])
    probs = load_f32(spec['probsFile'], [nb, B, C])
    onehot = load_f32(spec['onehotFile'], [nb, B, C])
    params, fwd = build(spec['template'], load_weights(spec), spec.get('linear', 'blas'))
    opt = make_optimizer(params, spec)
    T, alpha = spec['temperature'], spec['alpha']

    def step(i):
        j = i % nb
        opt.zero_grad(set_to_none=True)
        loss = kd_loss(fwd(x[j]), probs[j], onehot[j], T, alpha)
        loss.backward()
        opt.step()
        return loss

    for i in range(spec['warmup']):
        step(i)
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i in range(spec['steps']):
        loss = step(i)
    ms = (time.perf_counter() - t0) * 1000 / spec['steps']
    cpu = (time.process_time() - c0) * 1000 / spec['steps']
    print(json.dumps({'msPerStep': ms, 'cpuMsPerStep': cpu, 'loss': float(loss)}))


def mode_step(spec):
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    B, K, C = spec['batchSize'], spec['steps'], spec['classes']
    x = load_f32(spec['xFile'], [K, B] + spec['sampleShape'])
    probs = load_f32(spec['probsFile'], [K, B, C])
    onehot = load_f32(spec['onehotFile'], [K, B, C])
    params, fwd = build(spec['template'], load_weights(spec), spec.get('linear', 'blas'))
    opt = make_optimizer(params, spec)
    losses = []
    for k in range(K):
        for g in opt.param_groups:
            g['lr'] = spec['lrs'][k]
        opt.zero_grad(set_to_none=True)
        loss = kd_loss(fwd(x[k]), probs[k], onehot[k], spec['temperature'], spec['alpha'])
        loss.backward()
        opt.step()
        losses.append(float(loss))
    with open(spec['outFile'], 'wb') as f:
        for name, _ in spec['weightShapes']:
            f.write(params[name].detach().numpy().astype(np.float32).tobytes())
    print(json.dumps({'losses': losses}))


def mode_distill(spec):
    """The PyTorch recipe mirroring distill(): same student init, same batches (order given by the
    spec's index file), same lr schedule (cosine with warmup), clipping, AdamW, KD loss."""
    torch.set_num_threads(spec['threads'])
    torch.manual_seed(0)
    B, C = spec['batchSize'], spec['classes']
    shape = spec['sampleShape']
    xtr = load_f32(spec['trainX'], [-1] + shape)
    ytr = torch.from_numpy(np.fromfile(spec['trainY'], dtype=np.int32).astype(np.int64))
    ptr = load_f32(spec['trainProbs'], [-1, C])
    xte = load_f32(spec['testX'], [-1] + shape)
    yte = torch.from_numpy(np.fromfile(spec['testY'], dtype=np.int32).astype(np.int64))
    tte = load_f32(spec['testTeacherLogits'], [-1, C])
    order = torch.from_numpy(np.fromfile(spec['orderFile'], dtype=np.int32).astype(np.int64)).reshape(-1, B)
    params, fwd = build(spec['template'], load_weights(spec), spec.get('linear', 'blas'))
    opt = make_optimizer(params, spec)
    T, alpha, base = spec['temperature'], spec['alpha'], spec['lr']
    total, warm, minf = order.shape[0], spec['warmupSteps'], spec['minFactor']
    t0 = time.perf_counter()
    for s in range(total):
        if s < warm:
            lr = base * (s + 1) / warm
        else:
            prog = min(1.0, (s - warm) / max(1, total - warm))
            lr = base * minf + (base - base * minf) * 0.5 * (1 + math.cos(math.pi * prog))
        for g in opt.param_groups:
            g['lr'] = lr
        idx = order[s]
        y = ytr[idx]
        onehot = torch.zeros(B, C)
        lab = y >= 0
        onehot[lab.nonzero().flatten(), y[lab]] = 1.0
        opt.zero_grad(set_to_none=True)
        loss = kd_loss(fwd(xtr[idx]), ptr[idx], onehot, T, alpha)
        loss.backward()
        if spec.get('clipNorm'):
            torch.nn.utils.clip_grad_norm_(list(params.values()), spec['clipNorm'])  # coef = max/(norm + 1e-6), as ours
        opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        pred = torch.cat([fwd(xte[i:i + 1000]).argmax(1) for i in range(0, xte.shape[0], 1000)])
    acc = float((pred == yte).float().mean())
    agree = float((pred == tte.argmax(1)).float().mean())
    print(json.dumps({'testAccuracy': acc, 'agreement': agree, 'seconds': seconds, 'steps': total}))


if __name__ == '__main__':
    mode, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        spec = json.load(f)
    {'bench': mode_bench, 'step': mode_step, 'distill': mode_distill}[mode](spec)
