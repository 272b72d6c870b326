// Renderer logic added for issue 6: the per-layer precision heat map's data, the report's charts
// as SVG (HTML inline, Markdown data URIs) and the compression wizard's persisted draft.
import { describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '../../app/contract/api.js';
import { proposePlan } from '../../renderer/src/lib/plan.js';
import { base64Utf8, lineSvg, precisionStripSvg, scatterSvg, svgDataUri } from '../../renderer/src/lib/report-charts.js';
import { htmlReport, markdownReport, reportCharts } from '../../renderer/src/lib/report.js';
import { layerRows, modelsOf, precisionCounts, precisionKey, sensitivityLevels } from '../../renderer/src/lib/results.js';
import { clearDraft, DRAFT_KEY, isMeaningful, loadDraft, parseDraft, saveDraft, type DraftStorage } from '../../renderer/src/lib/wizard-draft.js';

/** What `distillery quantize --method mixed` records as the experiment summary (abridged). */
const mixedSummary = {
  method: 'mixed',
  output: '/tmp/q.onnx',
  sizeBytes: { before: 400_000, after: 120_000 },
  accuracy: { before: 0.9, after: 0.893 },
  latencyMs: { before: 1.2, after: 0.8 },
  layers: [
    { name: 'conv1', op: 'Conv', precision: 'float32', note: 'too sensitive' },
    { name: 'conv2', op: 'Conv', precision: 'int8' },
    { name: 'fc1', op: 'Gemm', precision: 'int4' },
    { name: 'fc2', op: 'Gemm', precision: 'float16' },
  ],
  mixed: {
    maxAccuracyDrop: 1,
    budgetMet: true,
    layers: [
      { name: 'conv1', op: 'Conv', params: 150, precision: 'float32', sensitivity: { sqnr: 12.5, accuracyDrop: 4.2 }, byPrecision: {} },
      { name: 'conv2', op: 'Conv', params: 4_000, precision: 'int8', sensitivity: { sqnr: 30, accuracyDrop: 0.3 }, byPrecision: {} },
      { name: 'fc1', op: 'Gemm', params: 80_000, precision: 'int4', sensitivity: { sqnr: 38, accuracyDrop: 0.1 }, byPrecision: {} },
      { name: 'fc2', op: 'Gemm', params: 1_000, precision: 'float16', sensitivity: { sqnr: 21, accuracyDrop: 1.6 }, byPrecision: {} },
    ],
    path: [],
  },
};

describe('per-layer precision heat map data', () => {
  it('joins mixed-precision sensitivity onto the layer rows by name', () => {
    const rows = layerRows(mixedSummary);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toEqual({ name: 'conv1', op: 'Conv', precision: 'float32', sensitivity: { sqnr: 12.5, accuracyDrop: 4.2 }, params: 150 });
    expect(rows[2]!.sensitivity).toEqual({ sqnr: 38, accuracyDrop: 0.1 });
  });
  it('reads a mixed summary without a plain layers list, and tolerates junk', () => {
    const { layers: _l, ...noPlain } = mixedSummary;
    expect(layerRows(noPlain).map((r) => r.precision)).toEqual(['float32', 'int8', 'int4', 'float16']);
    expect(layerRows({ layers: [null, 3, { name: 'x' }], mixed: { layers: 'nope' } })).toEqual([{ name: 'x', op: '', precision: '', sensitivity: null, params: null }]);
    expect(layerRows(null)).toEqual([]);
  });
  it('classifies precisions for the legend', () => {
    expect(['float32', 'fp32', 'float16', 'fp16', 'int8', 'uint8', 'int4', 'weird'].map(precisionKey)).toEqual(['fp32', 'fp32', 'fp16', 'fp16', 'int8', 'int8', 'int4', 'other']);
    expect(precisionCounts(layerRows(mixedSummary))).toEqual([
      { key: 'fp32', count: 1 },
      { key: 'fp16', count: 1 },
      { key: 'int8', count: 1 },
      { key: 'int4', count: 1 },
    ]);
  });
  it('shades by accuracy drop, else by SQNR, else not at all', () => {
    const levels = sensitivityLevels(layerRows(mixedSummary));
    expect(levels[0]).toBe(1);
    expect(levels[2]).toBe(0);
    expect(levels[1]!).toBeCloseTo(0.2 / 4.1, 6);
    const sqnrOnly = layerRows(mixedSummary).map((r) => ({ ...r, sensitivity: { sqnr: r.sensitivity!.sqnr, accuracyDrop: null } }));
    const byS = sensitivityLevels(sqnrOnly);
    expect(byS[0]).toBe(1); // lowest SQNR = most sensitive
    expect(byS[2]).toBe(0);
    expect(sensitivityLevels(layerRows({ layers: [{ name: 'a', op: 'Gemm', precision: 'int8' }] }))).toEqual([null]);
  });
});

describe('report charts as SVG', () => {
  const detail: ExperimentDetail = {
    experiment: {
      id: 'exp_9', kind: 'quantize', name: 'Mixed <run>', status: 'succeeded', parentId: null, config: { model: '/m/float.onnx', method: 'mixed' }, summary: mixedSummary,
      error: null, tags: [], pinned: false, createdAt: 0, startedAt: 0, finishedAt: 1, appVersion: 'test', device: 'cpu', seed: null, durationMs: 1,
    } as unknown as ExperimentDetail['experiment'],
    metrics: [], notes: [], benchmarks: [], artifacts: [], job: null, resumable: false,
  } as unknown as ExperimentDetail;
  const models = modelsOf(detail);
  const layers = layerRows(mixedSummary);
  const charts = { axis: 'sizeBytes' as const, recommended: models[1]!.id, loss: { xs: [1, 2, 3], ys: [1.2, 0.8, 0.6] }, accuracy: { xs: [1, 2, 3], ys: [0.7, null, 0.85] } };

  it('draws the trade-off scatter with the front and the recommendation, escaped', () => {
    const svg = scatterSvg([...models.map((m, i) => ({ id: m.id, label: m.label, accuracy: m.accuracy, latencyMs: m.latencyMs, sizeBytes: m.sizeBytes, reference: i === 0 })), { id: 'x', label: 'A & <B>', accuracy: 0.5, sizeBytes: 500_000, latencyMs: null }], 'sizeBytes', models[1]!.id)!;
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('stroke-dasharray="5 4"');
    expect(svg).toContain('r="11"');
    expect(svg).toContain('A &amp; &lt;B&gt;');
    expect(svg).not.toContain('<B>');
    expect(svg.match(/r="6"/g)).toHaveLength(3);
    expect(scatterSvg([{ id: 'a', label: 'a', accuracy: null, sizeBytes: 1, latencyMs: 1 }], 'sizeBytes')).toBeNull();
  });
  it('draws training curves, skipping missing values', () => {
    const svg = lineSvg('Loss', { xs: [1, 2, 3], ys: [1, null, 0.5] }, '#d9822b')!;
    expect(svg).toContain('<polyline');
    expect(svg.match(/<circle/g)).toHaveLength(2);
    expect(svg).toContain('last 0.5 at epoch 3');
    expect(lineSvg('Empty', { xs: [1], ys: [null] }, '#000')).toBeNull();
  });
  it('draws the precision strip with a sensitivity row', () => {
    const svg = precisionStripSvg(layers)!;
    expect(svg.match(/<rect[^>]*height="26"/g)).toHaveLength(4);
    expect(svg.match(/<rect[^>]*y="60" width="[^"]+" height="12"/g)).toHaveLength(4); // sensitivity row
    expect(svg).toContain('conv1 (Conv): float32, drop 4.20 pts, SQNR 12.5 dB');
    expect(precisionStripSvg([])).toBeNull();
  });
  it('encodes UTF-8 base64 like Buffer does', () => {
    for (const s of ['', 'a', 'ab', 'abc', 'Accuracy — 90% → µs', '<svg>✓</svg>']) expect(base64Utf8(s)).toBe(Buffer.from(s, 'utf8').toString('base64'));
    expect(svgDataUri('<svg/>')).toBe(`data:image/svg+xml;base64,${Buffer.from('<svg/>').toString('base64')}`);
  });
  it('embeds the charts inline in HTML and as data-URI images in Markdown', () => {
    const input = { detail, models, layers, recommendation: 'Use it.', charts };
    expect(reportCharts(input).map((c) => c.id)).toEqual(['trade-off', 'loss', 'accuracy', 'precision']);
    const html = htmlReport(input);
    expect(html.match(/<svg xmlns/g)).toHaveLength(4);
    expect(html).toContain('<figure class="chart" id="chart-trade-off">');
    expect(html).not.toContain('<script');
    expect(html).toContain('<th>Accuracy drop alone</th>');
    expect(html).toContain('Mixed &lt;run&gt;');
    const md = markdownReport(input);
    expect(md).toContain('## Charts');
    const uris = [...md.matchAll(/!\[([^\]]*)\]\((data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+)\)/g)];
    expect(uris.map((m) => m[1])).toEqual(['Trade-off: accuracy against size', 'Training loss', 'Validation accuracy', 'Precision per layer']);
    const decoded = Buffer.from(uris[0]![2]!.slice('data:image/svg+xml;base64,'.length), 'base64').toString('utf8');
    expect(decoded).toBe(reportCharts(input)[0]!.svg);
    expect(md).toContain('| conv1 | Conv | float32 | 4.20 pts | 12.5 dB |');
  });
  it('leaves charts out when there is no data for them', () => {
    const md = markdownReport({ detail, models: [], layers: [], recommendation: null, charts: { loss: { xs: [], ys: [] } } });
    expect(md).not.toContain('## Charts');
    expect(md).not.toContain('data:image');
    expect(htmlReport({ detail, models, layers, recommendation: null })).not.toContain('<svg');
  });
});

function memoryStorage(): DraftStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, String(v)), removeItem: (k) => void data.delete(k) };
}

describe('compression wizard draft', () => {
  const goal = { size: 'tenth' as const, speed: '2x' as const, maxDropPoints: 0.5 };
  const plan = proposePlan({ path: '/t.onnx', parameters: 400_000, inputShape: [1, 28, 28], classes: 10 }, goal);
  const { studentParameters: _p, explanation: _e, ...advanced } = plan;
  const draft = { teacher: '/t.onnx', step: 'review' as const, dataPath: '/data/fashion', goal, plan, advanced: { ...advanced, epochs: 2, limit: 2000 }, quick: true, name: 'My run' };

  it('round-trips a draft per teacher and clears it', () => {
    const s = memoryStorage();
    saveDraft(s, draft, 1234);
    expect(s.data.has(DRAFT_KEY)).toBe(true);
    expect(loadDraft(s, '/t.onnx')).toEqual({ ...draft, savedAt: 1234 });
    expect(loadDraft(s, '/other.onnx')).toBeNull();
    clearDraft(s);
    expect(loadDraft(s, '/t.onnx')).toBeNull();
  });
  it('drops malformed drafts and falls back to the goal step without a plan', () => {
    expect(parseDraft('{not json')).toBeNull();
    expect(parseDraft(JSON.stringify({ ...draft, step: 'launch' }))).toBeNull();
    expect(parseDraft(JSON.stringify({ ...draft, goal: { size: 'huge' } }))).toBeNull();
    const noPlan = parseDraft(JSON.stringify({ ...draft, plan: null }))!;
    expect(noPlan.step).toBe('goal');
    expect(noPlan.advanced).toBeNull();
    const badAdv = parseDraft(JSON.stringify({ ...draft, advanced: { ...draft.advanced, epochs: null } }))!;
    expect(badAdv).toMatchObject({ step: 'goal', plan: null, advanced: null, dataPath: '/data/fashion' });
    expect(parseDraft(JSON.stringify({ ...draft, step: 'data', quick: 'yes', name: 3 }))).toMatchObject({ quick: true, name: '' });
    // A draft saved before the workers field existed gets the default; a bad value is refused.
    const { workers: _w, ...older } = draft.advanced;
    expect(parseDraft(JSON.stringify({ ...draft, advanced: older }))!.advanced!.workers).toBe('auto');
    expect(parseDraft(JSON.stringify({ ...draft, advanced: { ...draft.advanced, workers: 'auto' } }))!.advanced!.workers).toBe('auto');
    expect(parseDraft(JSON.stringify({ ...draft, advanced: { ...draft.advanced, workers: 2 } }))!.advanced!.workers).toBe(2);
    expect(parseDraft(JSON.stringify({ ...draft, advanced: { ...draft.advanced, workers: 'two' } }))!.advanced).toBeNull();
    // Likewise the augmentation settings (session 5).
    const { augment: _a, augmentViews: _v, ...beforeViews } = draft.advanced;
    expect(parseDraft(JSON.stringify({ ...draft, advanced: beforeViews }))!.advanced).toMatchObject({ augment: 'none', augmentViews: 4 });
    expect(parseDraft(JSON.stringify({ ...draft, advanced: { ...draft.advanced, augment: 'rotate' } }))!.advanced).toBeNull();
  });
  it('survives storage that throws', () => {
    const broken: DraftStorage = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('full'); }, removeItem: () => { throw new Error('denied'); } };
    expect(() => saveDraft(broken, draft)).not.toThrow();
    expect(loadDraft(broken, '/t.onnx')).toBeNull();
    expect(() => clearDraft(broken)).not.toThrow();
    expect(loadDraft(null, null)).toBeNull();
  });
  it('only keeps drafts with something in them', () => {
    expect(isMeaningful({ step: 'data', dataPath: ' ', name: '' })).toBe(false);
    expect(isMeaningful({ step: 'data', dataPath: '/d', name: '' })).toBe(true);
    expect(isMeaningful({ step: 'goal', dataPath: '', name: '' })).toBe(true);
  });
});
