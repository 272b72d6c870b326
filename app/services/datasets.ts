// inspectDataset: class balance, counts, shape and a few samples as small PNG data URLs.
import { PNG } from 'pngjs';
import type { DatasetInspection, DatasetSample, InspectDatasetParams } from '../contract/api.js';

export async function inspectDataset(p: InspectDatasetParams): Promise<DatasetInspection> {
  const { loadDataset, classBalance, countUnlabeled } = await import('../engine/data/index.js');
  const limit = p.limit ?? 5000;
  const ds = await loadDataset(p.path, { limit, ...(p.labelColumn ? { labelColumn: p.labelColumn } : {}) });
  const n = ds.classes.length || undefined;
  const describe = (split: typeof ds.train) => ({ count: split.count, balance: classBalance(split, n), unlabeled: countUnlabeled(split) });
  const isImage = ds.sampleShape.length === 3 && (ds.sampleShape[0] === 1 || ds.sampleShape[0] === 3);
  const want = Math.min(p.samples ?? 8, ds.train.count);
  const samples: DatasetSample[] = [];
  // Spread the picks over the split (deterministic).
  for (let i = 0; i < want; i++) {
    const index = Math.floor((i * ds.train.count) / Math.max(1, want));
    const label = ds.train.y[index]!;
    samples.push({
      index,
      label,
      className: label >= 0 ? (ds.classes[label] ?? null) : null,
      image: isImage ? toPngDataUrl(ds.train.x, index, ds.sampleShape as [number, number, number], ds.preprocessing.normalize) : null,
    });
  }
  return {
    path: p.path,
    kind: ds.kind,
    classes: ds.classes,
    sampleShape: ds.sampleShape,
    train: describe(ds.train),
    test: ds.test ? describe(ds.test) : null,
    limited: ds.train.count >= limit || (ds.test?.count ?? 0) >= limit,
    fingerprint: ds.fingerprint,
    samples,
  };
}

function toPngDataUrl(x: Float32Array, index: number, [c, h, w]: [number, number, number], normalize: { mean: number; std: number } | null): string {
  const png = new PNG({ width: w, height: h });
  const base = index * c * h * w;
  for (let yy = 0; yy < h; yy++) {
    for (let xx = 0; xx < w; xx++) {
      const o = (yy * w + xx) * 4;
      for (let ch = 0; ch < 3; ch++) {
        let v = x[base + (c === 1 ? 0 : ch) * h * w + yy * w + xx]!;
        if (normalize) v = v * normalize.std + normalize.mean;
        png.data[o + ch] = Math.max(0, Math.min(255, Math.round(v * 255)));
      }
      png.data[o + 3] = 255;
    }
  }
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}
