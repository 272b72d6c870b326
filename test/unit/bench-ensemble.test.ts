// Ensemble scoring from per-model logits: the averaged softmax (not averaged logits), ranking
// by accuracy, gains/losses against the best member, summed latency and size, and which models
// may take part.
import { describe, expect, it } from 'vitest';
import { scoreEnsembles, type EnsembleCandidate } from '../../app/engine/bench/ensemble.js';

const f = (rows: number[][]) => Float32Array.from(rows.flat());
const labels = Int32Array.of(1, 0, 2, -1);
// a is right on items 1 and 2, b only on item 0. On item 0, a is confident in two classes and
// b in class 1: averaged probabilities pick 1 (right), averaged logits would pick 0.
const a: EnsembleCandidate = { model: '/m/a.onnx', accuracy: 2 / 3, latencyMs: { p50: 2 }, sizeBytes: 3000, logits: f([[30, 0, 29], [1, 0, 0], [0, 0, 1], [0, 0, 0]]) };
const b: EnsembleCandidate = { model: '/m/b.onnx', accuracy: 1 / 3, latencyMs: { p50: 0.5 }, sizeBytes: 1000, logits: f([[0, 4, 0], [0, 2, 0], [0, 0.9, 0], [0, 0, 0]]) };

describe('scoreEnsembles', () => {
  it('scores the averaged softmax of the best models against the labelled items', () => {
    const [pair, ...rest] = scoreEnsembles([b, a], labels, 3);
    expect(rest).toEqual([]); // only two models: no ensemble of three
    // Item 0 won (a alone is wrong), item 1 lost (a alone is right), item 2 right for both.
    expect(pair).toEqual({ members: ['/m/a.onnx', '/m/b.onnx'], accuracy: 2 / 3, samples: 3, gains: 1, losses: 1, latencyMs: 2.5, sizeBytes: 4000 });
  });
  it('leaves out models without accuracy or with logits of another shape, and ranks ties by speed', () => {
    const noLabels = { ...a, model: '/m/x.onnx', accuracy: null };
    const fiveClasses = { ...a, model: '/m/y.onnx', logits: new Float32Array(4 * 5) };
    expect(scoreEnsembles([a, noLabels, fiveClasses], labels, 3)).toEqual([]);
    const fastTwin = { ...a, model: '/m/a-fast.onnx', latencyMs: { p50: 1 } };
    const out = scoreEnsembles([b, a, fastTwin], labels, 3);
    expect(out.map((e) => e.members)).toEqual([['/m/a-fast.onnx', '/m/a.onnx'], ['/m/a-fast.onnx', '/m/a.onnx', '/m/b.onnx']]);
    expect(out[1]!.latencyMs).toBe(3.5);
  });
});
