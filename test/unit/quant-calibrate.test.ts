import { describe, expect, it } from 'vitest';
import { calibrate, HistogramCollector, MinMaxCollector, QuantizeError, type CalibrationBatch } from '../../app/engine/quantize/index.js';
import { buildCnn, fashion, imageBatches, rng } from './quant-fixtures.js';

function sortedQuantile(values: Float32Array, p: number): number {
  const s = Float32Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

describe('HistogramCollector', () => {
  it('keeps every count when the range grows (exact re-binning) and never grows its state', () => {
    const h = new HistogramCollector(2048, 'percentile', 99);
    const r = rng(5);
    let n = 0;
    const size = h.stateSize();
    for (let b = 0; b < 50; b++) {
      // The spread grows with every batch, forcing repeated re-binning in both directions.
      const scale = 1 + b;
      const data = Float32Array.from({ length: 1000 }, () => r.normal() * scale + b * 0.1);
      h.add(data);
      n += data.length;
      expect(h.count).toBe(n);
      expect(h.counts.reduce((a, c) => a + c, 0)).toBe(n);
      expect(h.counts.length).toBe(2048);
      expect(h.stateSize()).toBe(size);
    }
  });

  it('percentile matches the exact quantile within a bin width', () => {
    const r = rng(9);
    const data = Float32Array.from({ length: 200_000 }, () => r.uniform() * 4 - 1);
    const h = new HistogramCollector(2048, 'percentile', 99);
    for (let i = 0; i < data.length; i += 10_000) h.add(data.subarray(i, i + 10_000));
    const range = h.percentileRange();
    expect(Math.abs(range.max - sortedQuantile(data, 0.995))).toBeLessThanOrEqual(2 * h.binWidth);
    expect(Math.abs(range.min - sortedQuantile(data, 0.005))).toBeLessThanOrEqual(2 * h.binWidth);
  });

  it('entropy clips a long tail but keeps the bulk', () => {
    const r = rng(11);
    const data = Float32Array.from({ length: 100_000 }, () => Math.max(0, r.normal()));
    for (let i = 0; i < 10; i++) data[i] = 40; // outliers
    const h = new HistogramCollector(2048, 'entropy');
    h.add(data);
    const range = h.range()!;
    expect(range.min).toBe(0);
    expect(range.max).toBeGreaterThan(2.5); // keeps > 99 % of a half-normal
    expect(range.max).toBeLessThan(10); // ignores the outliers at 40
  });

  it('minmax collector', () => {
    const c = new MinMaxCollector();
    c.add([1, -2, 3]);
    c.addRange(-5, 0);
    expect(c.range()).toEqual({ min: -5, max: 3 });
    expect(c.stateSize()).toBe(2);
  });
});

describe('calibrate (streaming)', () => {
  it('state size does not depend on the number of batches; batches are pulled lazily', async () => {
    const model = buildCnn();
    const images = fashion(400, 'train');
    const tensors = ['x', 'relu', 'relu_1'];
    let pulled = 0;
    let maxAhead = 0;
    let consumed = 0;
    function* counted(batch: number): Generator<CalibrationBatch> {
      for (const b of imageBatches(images, batch, [1, 28, 28])) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - consumed);
        yield b;
        consumed++;
      }
    }
    const few = await calibrate(model, tensors, counted(200), { method: 'percentile' });
    const many = await calibrate(model, tensors, counted(10), { method: 'percentile' });
    expect(few.batches).toBe(2);
    expect(many.batches).toBe(40);
    expect(many.samples).toBe(400);
    expect(many.stateSize).toBe(few.stateSize);
    expect(many.stateSize).toBe(3 * (2048 + 5));
    expect(maxAhead).toBe(1); // never more than one batch in flight
    // Same data in different batch sizes: same min/max.
    const a = await calibrate(model, tensors, imageBatches(images, 200, [1, 28, 28]));
    const b = await calibrate(model, tensors, imageBatches(images, 7, [1, 28, 28]));
    expect(a.stateSize).toBe(6);
    expect(b.stateSize).toBe(6);
    for (const t of tensors) expect(b.ranges.get(t)).toEqual(a.ranges.get(t));
    expect(a.ranges.get('x')).toEqual({ min: 0, max: 1 });
  });

  it('accepts an async iterable and maxBatches', async () => {
    const images = fashion(100, 'train');
    async function* gen(): AsyncGenerator<CalibrationBatch> {
      yield* imageBatches(images, 10, [1, 28, 28]);
    }
    const r = await calibrate(buildCnn(), ['x'], gen(), { maxBatches: 3 });
    expect(r.batches).toBe(3);
    expect(r.samples).toBe(30);
  });

  it('names the input and both shapes when a batch does not fit', async () => {
    const bad: CalibrationBatch[] = [{ x: { data: new Float32Array(4 * 784), dims: [4, 784] } }];
    await expect(calibrate(buildCnn(), ['x'], bad)).rejects.toThrow(QuantizeError);
    await expect(calibrate(buildCnn(), ['x'], bad)).rejects.toThrow("input 'x' has shape [4, 784] but the model expects [N, 1, 28, 28]");
    const wrongCount: CalibrationBatch[] = [{ x: { data: new Float32Array(10), dims: [1, 1, 28, 28] } }];
    await expect(calibrate(buildCnn(), ['x'], wrongCount)).rejects.toThrow("input 'x' has 10 values but shape [1, 1, 28, 28] needs 784");
    const missing: CalibrationBatch[] = [{ image: { data: new Float32Array(784), dims: [1, 1, 28, 28] } }];
    await expect(calibrate(buildCnn(), ['x'], missing)).rejects.toThrow("'image' is not an input of the model (inputs: x)");
    await expect(calibrate(buildCnn(), ['x'], [])).rejects.toThrow(/calibration data is empty/);
  });
});
