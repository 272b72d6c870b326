// Student templates, augmentation, schedules, metrics and checkpoints: the small pieces the
// distillation run is made of.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { augmentSplit } from '../../app/engine/data/augment.js';
import { makeSplit } from '../../app/engine/data/split.js';
import { buildStudent, parseTemplate, templateParameters, TemplateError } from '../../app/engine/distill/students.js';
import { proposeStudent, parameterCount } from '../../app/engine/distill/distill.js';
import { encodeModel } from '../../app/engine/onnx/codec.js';
import { loadCheckpoint, saveCheckpoint } from '../../app/engine/training/checkpoint.js';
import { evaluateLogits, softTargets } from '../../app/engine/training/metrics.js';
import { learningRate } from '../../app/engine/training/schedule.js';

describe('student templates', () => {
  it('parses the grammar and rejects bad specs with the reason', () => {
    expect(parseTemplate('mlp:128,64')).toEqual({ kind: 'mlp', hidden: [128, 64] });
    expect(parseTemplate(' CNN:8,16/32 ')).toEqual({ kind: 'cnn', channels: [8, 16], fc: 32 });
    expect(() => parseTemplate('mlp:0')).toThrow(/'0' must be a whole number from 1/);
    expect(() => parseTemplate('cnn:8,16')).toThrow(TemplateError);
    expect(() => parseTemplate('resnet:18')).toThrow(/use mlp:H1\[,H2...\]/);
    expect(() => parseTemplate('cnn:8/32,4')).toThrow(/exactly one dense width/);
  });

  it('builds models whose parameter count matches the formula and that run in ONNX Runtime', async () => {
    for (const spec of ['mlp:32', 'mlp:16,8', 'cnn:4,8/16', 'cnn:8,16/32']) {
      const t = parseTemplate(spec);
      const model = buildStudent({ template: t, sampleShape: [1, 28, 28], classes: 10, seed: 3 });
      expect(parameterCount(model), spec).toBe(templateParameters(t, [1, 28, 28], 10));
      const session = await ort.InferenceSession.create(encodeModel(model));
      const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(2 * 784).fill(0.5), [2, 1, 28, 28]) });
      expect(out.logits!.dims).toEqual([2, 10]);
      expect([...(out.logits!.data as Float32Array)].every(Number.isFinite)).toBe(true);
    }
    expect(parameterCount(buildStudent({ template: parseTemplate('cnn:8,16/32'), sampleShape: [1, 28, 28], classes: 10, seed: 1 }))).toBe(26_698);
  });

  it('initialises deterministically from the seed (He scale for ReLU layers)', () => {
    const a = buildStudent({ template: parseTemplate('mlp:64'), sampleShape: [784], classes: 10, seed: 7 });
    const b = buildStudent({ template: parseTemplate('mlp:64'), sampleShape: [784], classes: 10, seed: 7 });
    const c = buildStudent({ template: parseTemplate('mlp:64'), sampleShape: [784], classes: 10, seed: 8 });
    expect(encodeModel(a)).toEqual(encodeModel(b));
    expect(encodeModel(a)).not.toEqual(encodeModel(c));
    const w = new Float32Array(a.graph.initializers[0]!.data.kind === 'raw' ? a.graph.initializers[0]!.data.bytes.slice().buffer : new ArrayBuffer(0));
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(Math.sqrt(2 / 784) * 0.95);
    expect(std).toBeLessThan(Math.sqrt(2 / 784) * 1.05);
  });

  it('proposes the largest template within the size budget', () => {
    const teacher = templateParameters(parseTemplate('cnn:32,64/256'), [1, 28, 28], 10);
    const spec = proposeStudent([1, 28, 28], 10, teacher, 0.25);
    expect(templateParameters(parseTemplate(spec), [1, 28, 28], 10)).toBeLessThanOrEqual(teacher * 0.25);
    expect(spec).toBe('cnn:16,32/64');
    expect(proposeStudent([20], 3, 10_000, 0.25)).toMatch(/^mlp:/);
  });
});

describe('augmentation', () => {
  const img = new Float32Array(2 * 16);
  img[5] = 1; // sample 0: a dot at row 1, col 1 of a 4x4 image
  img[16 + 10] = 1; // sample 1: a dot at row 2, col 2
  const split = makeSplit(img, Int32Array.of(3, 7), [1, 4, 4]);

  it('appends shifted copies after the originals and keeps labels', () => {
    const out = augmentSplit(split, { views: 3, maxShift: 1, flip: false, seed: 1 });
    expect(out.count).toBe(6);
    expect([...out.y]).toEqual([3, 7, 3, 7, 3, 7]);
    expect(out.x.subarray(0, 32)).toEqual(img);
    for (let i = 2; i < 6; i++) {
      const view = out.x.subarray(i * 16, i * 16 + 16);
      // A shift of at most one pixel keeps the single dot inside the 4x4 frame.
      expect(view.reduce((s, v) => s + v, 0)).toBe(1);
      const at = view.indexOf(1);
      const [r0, c0] = i % 2 === 0 ? [1, 1] : [2, 2];
      expect(Math.abs(Math.floor(at / 4) - r0)).toBeLessThanOrEqual(1);
      expect(Math.abs((at % 4) - c0)).toBeLessThanOrEqual(1);
    }
  });

  it('is reproducible from the seed and refuses non-image data', () => {
    const a = augmentSplit(split, { views: 4, maxShift: 2, flip: true, seed: 5 });
    const b = augmentSplit(split, { views: 4, maxShift: 2, flip: true, seed: 5 });
    expect(a.x).toEqual(b.x);
    expect(() => augmentSplit(makeSplit(new Float32Array(6), Int32Array.of(0, 1), [3]), { views: 2, maxShift: 1, flip: false, seed: 1 })).toThrow(/images/);
  });
});

describe('schedules and metrics', () => {
  it('warms up linearly, then follows a cosine to the floor', () => {
    const s = { kind: 'cosine' as const, warmupSteps: 10, minFactor: 0.1 };
    expect(learningRate(s, 1, 0, 110)).toBeCloseTo(0.1);
    expect(learningRate(s, 1, 9, 110)).toBeCloseTo(1);
    expect(learningRate(s, 1, 60, 110)).toBeCloseTo(0.55);
    expect(learningRate(s, 1, 110, 110)).toBeCloseTo(0.1);
    expect(learningRate({ kind: 'constant' }, 0.3, 50, 100)).toBe(0.3);
  });

  it('averages several teachers’ soft targets and scores accuracy, agreement and KL', () => {
    const t1 = Float32Array.of(2, 0, 0, 0, 2, 0);
    const t2 = Float32Array.of(0, 2, 0, 0, 2, 0);
    const p = softTargets([t1, t2], Int32Array.of(0, 1), 3, 1);
    expect(p[0]).toBeCloseTo(p[1]!);
    expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1);
    const m = evaluateLogits(Float32Array.of(0, 0, 5, 0, 5, 0), Int32Array.of(2, -1), [t1], 3);
    expect(m.accuracy).toBe(1); // one labelled sample, right
    expect(m.agreement).toBe(0.5); // sample 0 disagrees with the teacher
    expect(m.kl).toBeGreaterThan(0);
  });
});

describe('checkpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distillery-ckpt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips weights, optimizer state, history and best weights', async () => {
    const path = join(dir, 'a.ckpt');
    const ck = {
      step: 120,
      epoch: 2,
      weights: new Map([['w', Float32Array.of(1, 2, 3)]]),
      state: new Map([['w.m', Float32Array.of(0.1, 0.2, 0.3)]]),
      history: [{ epoch: 1, loss: 0.5 }],
      best: { score: 0.9, epoch: 1, weights: new Map([['w', Float32Array.of(4, 5, 6)]]) },
    };
    await saveCheckpoint(path, ck);
    const back = await loadCheckpoint(path);
    expect(back).toEqual(ck);
  });

  it('refuses files that are not checkpoints or are cut short', async () => {
    const bad = join(dir, 'bad.ckpt');
    writeFileSync(bad, 'hello world, not a checkpoint');
    await expect(loadCheckpoint(bad)).rejects.toThrow(/not a Distillery checkpoint/);
    const good = join(dir, 'good.ckpt');
    await saveCheckpoint(good, { step: 1, epoch: 0, weights: new Map([['w', new Float32Array(100)]]), state: new Map(), history: [] });
    const { readFileSync } = await import('node:fs');
    writeFileSync(bad, readFileSync(good).subarray(0, 200));
    await expect(loadCheckpoint(bad)).rejects.toThrow(/truncated/);
  });
});
