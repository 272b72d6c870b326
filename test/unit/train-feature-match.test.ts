// Feature matching in the train step: the gradient of the whole loss (KD + CE + feature term,
// through the learned projection) against central finite differences of the step's own loss.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../app/engine/data/prng.js';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { encodeModel } from '../../app/engine/onnx/codec.js';
import { floatData } from '../../app/engine/onnx/tensor.js';
import { probeShapes } from '../../app/engine/training/shape-probe.js';
import { buildTrainStep } from '../../app/engine/training/train-step.js';

describe('feature matching', () => {
  it('back-propagates the feature loss into the student and the projection (finite differences)', async () => {
    const B = 4;
    const student = buildStudent({ template: parseTemplate('mlp:6'), sampleShape: [5], classes: 3, seed: 3 });
    const rng = createRng(9);
    const rand = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
    const x = rand(B * 5, 2);
    const shapes = await probeShapes(student, { input: new ort.Tensor('float32', x, [B, 5]) });
    const step = buildTrainStep({
      student,
      batchSize: B,
      optimizer: { kind: 'sgd', momentum: 0, weightDecay: 0 },
      shape: (n) => shapes.get(n)!,
      featureMatch: { studentTensor: 'relu', teacherSize: 4, weight: 0.7, seed: 1 },
    });
    expect(step.teacherFeatures).toBeDefined();
    expect([...step.extraParams.keys()].map((k) => k.replace(/^train\//, ''))).toEqual(['feature_proj.weight', 'feature_proj.bias']);
    const session = await ort.InferenceSession.create(encodeModel(step.model));
    const probs = Float32Array.from({ length: B * 3 }, (_, i) => [0.7, 0.2, 0.1][i % 3]!);
    const labels = new Float32Array(B * 3);
    [0, 2, 1].forEach((c, i) => (labels[i * 3 + c] = 1)); // the last sample is unlabelled
    const feats = rand(B * 4);
    const base: Record<string, Float32Array> = {};
    for (const p of step.params) base[p.name] = step.extraParams.get(p.name) ?? Float32Array.from(floatData(student.graph.initializers.find((t) => t.name === p.name)!));
    base['train/feature_proj.bias'] = rand(4, 0.3); // non-zero, so its gradient path is exercised too
    const run = async (weights: Record<string, Float32Array>, lr: number) => {
      const feeds: Record<string, ort.Tensor> = {
        input: new ort.Tensor('float32', x, [B, 5]),
        [step.feeds.teacherProbs]: new ort.Tensor('float32', probs, [B, 3]),
        [step.feeds.labels]: new ort.Tensor('float32', labels, [B, 3]),
        [step.teacherFeatures!]: new ort.Tensor('float32', feats, [B, 4]),
        [step.feeds.lr]: new ort.Tensor('float32', Float32Array.of(lr), []),
        [step.feeds.temperature]: new ort.Tensor('float32', Float32Array.of(2), []),
        [step.feeds.alpha]: new ort.Tensor('float32', Float32Array.of(0.6), []),
        [step.feeds.bc1]: new ort.Tensor('float32', Float32Array.of(1), []),
        [step.feeds.bc2]: new ort.Tensor('float32', Float32Array.of(1), []),
      };
      for (const p of step.params) {
        feeds[p.name] = new ort.Tensor('float32', weights[p.name]!, p.dims);
        for (const s of p.state) feeds[s.input] = new ort.Tensor('float32', new Float32Array(weights[p.name]!.length), p.dims);
      }
      return session.run(feeds);
    };
    // With plain SGD and lr = 1 the update is exactly the gradient: g = w - w'.
    const out = await run(base, 1);
    expect((out[step.outputs.lossFm!]!.data as Float32Array)[0]).toBeGreaterThan(0);
    let worst = 0;
    for (const p of step.params) {
      const updated = out[p.output]!.data as Float32Array;
      for (const i of [0, Math.floor(base[p.name]!.length / 2), base[p.name]!.length - 1]) {
        const analytic = base[p.name]![i]! - updated[i]!;
        const eps = 1e-2;
        const lossAt = async (delta: number) => {
          const w = { ...base, [p.name]: Float32Array.from(base[p.name]!) };
          w[p.name]![i]! += delta;
          return (((await run(w, 0))[step.outputs.loss]!.data as Float32Array)[0])!;
        };
        const numeric = ((await lossAt(eps)) - (await lossAt(-eps))) / (2 * eps);
        worst = Math.max(worst, Math.abs(analytic - numeric) / Math.max(1e-2, Math.abs(numeric)));
      }
    }
    expect(worst).toBeLessThan(2e-2);
  });

  it('names a student tensor that does not exist', async () => {
    const student = buildStudent({ template: parseTemplate('mlp:6'), sampleShape: [5], classes: 3, seed: 3 });
    const shapes = await probeShapes(student, { input: new ort.Tensor('float32', new Float32Array(10), [2, 5]) });
    expect(() => buildTrainStep({ student, batchSize: 2, shape: (n) => shapes.get(n)!, featureMatch: { studentTensor: 'nope', teacherSize: 4, weight: 1, seed: 1 } })).toThrow(/no tensor 'nope'/);
  });
});
