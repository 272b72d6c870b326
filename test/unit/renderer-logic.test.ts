// Pure renderer logic: formatting, errors, diff-only compare rows, Pareto, virtualisation,
// the compression wizard's plan, teacher recommendation, routes, history filters, reports.
import { describe, expect, it } from 'vitest';
import type { CompareResult, DatasetInspection, EnsembleScore, ModelInspection } from '../../app/contract/api.js';
import { betterOf, groupRows, labelOf, rowViews, scoreColumns } from '../../renderer/src/lib/compare.js';
import { checkFit } from '../../renderer/src/lib/datafit.js';
import { cleanMessage, explainError } from '../../renderer/src/lib/errors.js';
import { formatBytes, formatCount, formatDevice, formatDuration, formatMs, formatPercent, formatPoints, formatShape } from '../../renderer/src/lib/format.js';
import { DEFAULT_FILTERS, toggleSort, toParams } from '../../renderer/src/lib/history-query.js';
import { paretoFront, recommend, type ParetoPoint } from '../../renderer/src/lib/pareto.js';
import { validateCall } from '../../app/contract/schemas.js';
import { blockerOf, distillConfig, nextStep, prevStep, proposePlan, quantizeConfig, studentParameters } from '../../renderer/src/lib/plan.js';
import { escapeHtml, htmlReport, markdownReport } from '../../renderer/src/lib/report.js';
import { deviceNote, layerRows, modelsOf, num, trainedOn, workersNote } from '../../renderer/src/lib/results.js';
import { hrefOf, parseHash } from '../../renderer/src/lib/routes.js';
import { recommendTeacher, runVerdict, scoringConfig, usableEnsembles, type Candidate } from '../../renderer/src/lib/teachers.js';
import { PageCache, pagesFor } from '../../renderer/src/lib/virtual.js';
import { alignLines, lastValues, ticks } from '../../renderer/src/lib/chart.js';
import { categoryOf, consumersOf, fitView, graphLayout, graphSummary, sourcesOf } from '../../renderer/src/lib/graph.js';

describe('format', () => {
  it('names devices', () => {
    expect(formatDevice('cpu')).toBe('CPU');
    expect(formatDevice('webgpu')).toBe('WebGPU');
    expect(formatDevice('auto')).toBe('Best available');
    expect(formatDevice(null)).toBe('—');
    expect(formatDevice('npu')).toBe('npu');
  });
  it('formats sizes, counts, percentages, points, durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1_680_000)).toBe('1.68 MB');
    expect(formatBytes(null)).toBe('—');
    expect(formatCount(420_000)).toBe('420.0 k');
    expect(formatCount(1_230_000)).toBe('1.23 M');
    expect(formatPercent(0.8734)).toBe('87.3%');
    expect(formatPoints(-0.012)).toBe('−1.2 pts');
    expect(formatPoints(0.0001)).toBe('±0.0 pts');
    expect(formatMs(0.35)).toBe('350 µs');
    expect(formatMs(12.345)).toBe('12.35 ms');
    expect(formatDuration(125)).toBe('2 min 5 s');
    expect(formatDuration(3720)).toBe('1 h 2 min');
    expect(formatShape(['batch', 1, 28, 28])).toBe('batch × 1 × 28 × 28');
  });
});

describe('errors in plain words', () => {
  it('drops stack traces and method prefixes, and says what to do next', () => {
    const err = Object.assign(new Error("startDistill: 'data' must be an absolute path\n    at validateCall (schemas.ts:10:5)"), { code: 'INVALID_PARAMS' });
    const plain = explainError(err);
    expect(plain.message).toBe('The dataset path must be an absolute path.');
    expect(plain.message).not.toMatch(/at validateCall/);
    expect(plain.next).toMatch(/full path/);
    expect(cleanMessage('TypeError: boom')).toBe('Boom.');
    expect(explainError({ code: 'NETWORK', message: 'x' }).title).toMatch(/Cannot reach/);
  });
});

const compare: CompareResult = {
  baseline: 'exp_a',
  columns: [
    { id: 'exp_a', name: 'A', kind: 'distill', status: 'succeeded', pinned: true },
    { id: 'exp_b', name: 'B', kind: 'distill', status: 'succeeded', pinned: false },
  ],
  rows: [
    { section: 'config', key: 'config.epochs', values: [3, 5], deltas: [0, 2], differs: true },
    { section: 'config', key: 'config.lr', values: [0.002, 0.002], deltas: [0, 0], differs: false },
    { section: 'metrics', key: 'metrics.testAccuracy', values: [0.85, 0.87], deltas: [0, 0.02], differs: true },
    { section: 'benchmark', key: 'benchmark.student.onnx.latencyMs.p50', values: [1.2, 1.5], deltas: [0, 0.3], differs: true },
  ],
};

describe('diff-only compare rows', () => {
  it('hides identical rows, labels keys, marks better and worse against the baseline', () => {
    const rows = rowViews(compare, { diffOnly: true });
    expect(rows.map((r) => r.key)).toEqual(['config.epochs', 'metrics.testAccuracy', 'benchmark.student.onnx.latencyMs.p50']);
    expect(rowViews(compare, { diffOnly: false })).toHaveLength(4);
    const acc = rows.find((r) => r.key === 'metrics.testAccuracy')!;
    expect(acc.label).toBe('Test accuracy');
    expect(acc.cells[0]!.text).toBe('85.0%');
    expect(acc.cells[1]).toMatchObject({ text: '87.0%', delta: '+2.0 pts', verdict: 'better' });
    const lat = rows.find((r) => r.key.includes('latency'))!;
    expect(lat.cells[1]!.verdict).toBe('worse');
    expect(rows.find((r) => r.key === 'config.epochs')!.cells[1]!.verdict).toBeNull();
    expect(betterOf('metrics.agreement')).toBe('higher');
    // Config values are never given units by name (batchSize is not bytes, jobParams not ms).
    expect(rowViews({ ...compare, rows: [{ section: 'config', key: 'config.jobParams.batchSize', values: [64, 32], deltas: [0, -32], differs: true }] }, { diffOnly: true })[0]!.cells[0]!.text).toBe('64');
    expect(rowViews({ ...compare, rows: [{ section: 'metrics', key: 'metrics.sizeBytes.after', values: [2000, 1000], deltas: [0, -1000], differs: true }] }, { diffOnly: true })[0]!.cells[1]).toMatchObject({ text: '1.00 KB', verdict: 'better' });
    expect(labelOf('benchmark.student.onnx.latencyMs.p50')).toContain('Latency p50');
    expect(groupRows(rows).map((g) => g.section)).toEqual(['metrics', 'benchmark', 'config']);
    expect(scoreColumns(rows, 2)[1]).toEqual({ better: 1, worse: 1 });
    expect(rowViews(compare, { diffOnly: false, search: 'latency' })).toHaveLength(1);
  });
});

describe('Pareto front and recommendation', () => {
  const pts: ParetoPoint[] = [
    { id: 't', label: 'Teacher', accuracy: 0.9, latencyMs: 2, sizeBytes: 1_600_000, reference: true },
    { id: 's', label: 'Student', accuracy: 0.895, latencyMs: 0.5, sizeBytes: 100_000 },
    { id: 'q', label: 'Quantized', accuracy: 0.88, latencyMs: 0.4, sizeBytes: 30_000 },
    { id: 'bad', label: 'Worse', accuracy: 0.8, latencyMs: 3, sizeBytes: 2_000_000 },
  ];
  it('finds the non-dominated points', () => {
    expect([...paretoFront(pts, 'sizeBytes')].sort()).toEqual(['q', 's', 't']);
  });
  it('recommends the cheapest within the tolerance, in plain words', () => {
    const r = recommend(pts, 'sizeBytes', 0.01)!;
    expect(r.id).toBe('s');
    expect(r.sentence).toMatch(/^Use Student: 16× smaller than Teacher/);
    expect(recommend(pts, 'sizeBytes', 0.03)!.id).toBe('q');
    expect(recommend([], 'latencyMs')).toBeNull();
  });
});

describe('virtualised rows', () => {
  it('maps a row range to the pages that cover it', () => {
    expect(pagesFor(190, 230, 200)).toEqual([0, 1]);
    expect(pagesFor(5, 5, 200)).toEqual([]);
  });
  it('fetches only the pages it needs and forgets on reset', async () => {
    const calls: number[] = [];
    const cache = new PageCache<number>(async (offset, limit) => {
      calls.push(offset);
      return { rows: Array.from({ length: Math.min(limit, 1000 - offset) }, (_, i) => offset + i), total: 1000 };
    }, 100);
    await cache.ensure(0, 30);
    await cache.ensure(10, 40);
    expect(calls).toEqual([0]);
    await cache.ensure(450, 520);
    expect(calls).toEqual([0, 400, 500]);
    expect(cache.get(505)).toBe(505);
    expect(cache.total).toBe(1000);
    cache.reset();
    expect(cache.get(0)).toBeUndefined();
  });
});

const teacher: ModelInspection = {
  path: '/m/t.onnx', irVersion: 8, opsetImports: { '': 17 }, producer: { name: '', version: '' },
  inputs: [{ name: 'input', type: 'float32', shape: ['batch', 1, 28, 28] }],
  outputs: [{ name: 'logits', type: 'float32', shape: ['batch', 10] }],
  parameters: 420_000, sizeBytes: 1_680_000, ops: { Conv: 2, Relu: 3, Gemm: 2 }, flops: 1e7, unsupportedOps: [], metadata: {}, nodes: 9, initializers: 8, externalData: false, runError: null,
};
const dataset: DatasetInspection = {
  path: '/d', kind: 'idx', classes: Array.from({ length: 10 }, (_, i) => `c${i}`), sampleShape: [1, 28, 28],
  train: { count: 10_000, balance: Array(10).fill(1000), unlabeled: 0 }, test: { count: 2000, balance: Array(10).fill(200), unlabeled: 0 },
  limited: false, fingerprint: 'x', samples: [],
};

describe('compression wizard', () => {
  it('checks the data against the teacher in plain words', () => {
    expect(checkFit(teacher, dataset).ok).toBe(true);
    const bad = checkFit(teacher, { ...dataset, sampleShape: [3, 32, 32], classes: ['a', 'b'] });
    expect(bad.ok).toBe(false);
    expect(bad.problems.join(' ')).toMatch(/expects inputs of 1 × 28 × 28.*3 × 32 × 32/);
    expect(bad.problems.join(' ')).toMatch(/10 classes but the dataset has 2/);
  });
  it('sizes the student to the goal and explains the plan', () => {
    expect(studentParameters('mlp:64', [1, 28, 28], 10)).toBe(784 * 64 + 64 + 64 * 10 + 10);
    expect(studentParameters('cnn:8,16/32', [1, 28, 28], 10)).toBe(80 + 1168 + 16 * 7 * 7 * 32 + 32 + 330);
    const plan = proposePlan({ path: teacher.path, parameters: 420_000, inputShape: [1, 28, 28], classes: 10 }, { size: 'quarter', speed: 'any', maxDropPoints: 1 });
    expect(plan.student).toMatch(/^cnn:/);
    expect(plan.studentParameters).toBeLessThanOrEqual(210_000);
    expect(plan.quantize).toBe('dynamic');
    expect(plan.explanation.join(' ')).toMatch(/fewer parameters than the teacher/);
    const keep = proposePlan({ path: 'x', parameters: 420_000, inputShape: [20], classes: 3 }, { size: 'half', speed: 'any', maxDropPoints: 1 });
    expect(keep.student).toMatch(/^mlp:/);
    expect(keep.quantize).toBe('none');
  });
  it('gives small image sets extra views and sizes the epochs to the data', () => {
    const facts = { path: 't', parameters: 420_000, inputShape: [1, 28, 28], classes: 10 };
    const goal = { size: 'quarter', speed: 'any', maxDropPoints: 1 } as const;
    // The bundled sample (10,000 images): the demo's recipe.
    const sample = proposePlan(facts, goal, 10_000);
    expect(sample).toMatchObject({ augment: 'shift', augmentViews: 16, epochs: 12 });
    expect(sample.explanation.join(' ')).toMatch(/16 views of each training image/);
    expect(validateCall('startDistill', distillConfig(['/t.onnx'], '/d', sample))).toMatchObject({ augment: 'shift', augmentViews: 16, epochs: 12 });
    // Full Fashion-MNIST: a few views; very large sets: none, and fewer epochs.
    expect(proposePlan(facts, goal, 60_000)).toMatchObject({ augment: 'shift', augmentViews: 3, epochs: 11 });
    const large = proposePlan(facts, goal, 500_000);
    expect(large).toMatchObject({ augment: 'none', epochs: 4 });
    expect(distillConfig(['/t.onnx'], '/d', large).augment).toBeUndefined();
    // Feature vectors never get image views.
    expect(proposePlan({ ...facts, inputShape: [20] }, goal, 1_000)).toMatchObject({ augment: 'none' });
    const ok = { teacher: 't', data: '/d', dataOk: true };
    expect(blockerOf('plan', ok, { ...sample, augmentViews: 40 })).toMatch(/Views per image must be a whole number from 2 to 32/);
    expect(blockerOf('plan', ok, { ...sample, augment: 'none', augmentViews: 40 })).toBeNull();
  });
  it('walks the steps and refuses bad advanced values', () => {
    expect(nextStep('data')).toBe('goal');
    expect(prevStep('data')).toBeNull();
    expect(blockerOf('data', { teacher: null, data: null, dataOk: false })).toMatch(/teacher/);
    expect(blockerOf('data', { teacher: 't', data: '/d', dataOk: true })).toBeNull();
    const plan = proposePlan({ path: 't', parameters: 420_000, inputShape: [1, 28, 28], classes: 10 }, { size: 'quarter', speed: 'any', maxDropPoints: 1 });
    expect(blockerOf('plan', { teacher: 't', data: '/d', dataOk: true }, { ...plan, alpha: 2 })).toMatch(/Alpha/);
    expect(blockerOf('plan', { teacher: 't', data: '/d', dataOk: true }, { ...plan, epochs: 0 })).toMatch(/Epochs/);
    const dc = distillConfig(['/t.onnx'], '/d', { ...plan, limit: 2000 }, 'run');
    expect(dc).toMatchObject({ teachers: ['/t.onnx'], data: '/d', limit: 2000, name: 'run', student: plan.student });
    expect(distillConfig(['/a.onnx', '/b.onnx'], '/d', plan).teachers).toEqual(['/a.onnx', '/b.onnx']);
    expect(quantizeConfig('/s.onnx', '/d', plan, { size: 'quarter', speed: 'any', maxDropPoints: 1 }, 'exp_1')).toMatchObject({ method: 'dynamic', maxAccuracyDrop: 1, parentId: 'exp_1' });
    expect(quantizeConfig('/s.onnx', '/d', { ...plan, quantize: 'none' }, { size: 'half', speed: 'any', maxDropPoints: 1 }, 'exp_1')).toBeNull();
    // Mixed precision: a speed goal asks for the fastest plan within the budget, else the smallest.
    expect(quantizeConfig('/s.onnx', '/d', { ...plan, quantize: 'mixed' }, { size: 'quarter', speed: '2x', maxDropPoints: 1 }, 'exp_1')).toMatchObject({ method: 'mixed', objective: 'latency', calib: '/d' });
    expect(quantizeConfig('/s.onnx', '/d', { ...plan, quantize: 'mixed' }, { size: 'tenth', speed: 'any', maxDropPoints: 1 }, 'exp_1')).toMatchObject({ method: 'mixed', objective: 'size' });
    expect(quantizeConfig('/s.onnx', '/d', plan, { size: 'quarter', speed: '2x', maxDropPoints: 1 }, 'exp_1')!.objective).toBeUndefined();
  });
  it("starts with automatic training workers and passes the choice to the distill config the contract accepts", () => {
    const plan = proposePlan({ path: 't', parameters: 420_000, inputShape: [1, 28, 28], classes: 10 }, { size: 'quarter', speed: 'any', maxDropPoints: 1 });
    const ok = { teacher: 't', data: '/d', dataOk: true };
    expect(plan.workers).toBe('auto');
    expect(validateCall('startDistill', distillConfig(['/t.onnx'], '/d', plan)).workers).toBe('auto');
    expect(distillConfig(['/t.onnx'], '/d', { ...plan, workers: 1 }).workers).toBe(1);
    const two = distillConfig(['/t.onnx'], '/d', { ...plan, workers: 2 });
    expect(two.workers).toBe(2);
    expect(validateCall('startDistill', two).workers).toBe(2);
    expect(blockerOf('plan', ok, { ...plan, workers: 2 })).toBeNull();
    expect(blockerOf('plan', ok, { ...plan, workers: 'auto', batchSize: 1 })).toBeNull();
    for (const workers of [0, 9, 1.5, NaN]) expect(blockerOf('plan', ok, { ...plan, workers })).toMatch(/workers must be Automatic or a whole number from 1 to 8/);
    expect(blockerOf('plan', ok, { ...plan, workers: 4, batchSize: 2 })).toMatch(/cannot exceed the batch size/);
    expect(() => validateCall('startDistill', { ...two, workers: 'all' as never })).toThrow(/workers/);
    expect(workersNote({ workers: 2 })).toBe(', 2 worker threads');
    expect(workersNote({ workers: 1 })).toBe('');
    expect(workersNote({})).toBe('');
    expect(() => validateCall('startDistill', { ...two, workers: 9 })).toThrow(/workers/);
  });
});

describe('teacher recommendation', () => {
  const c = (name: string, acc: number | null, ms: number | null, runs = true): Candidate => ({
    path: `/m/${name}.onnx`, name, error: null,
    inspection: runs ? teacher : { ...teacher, unsupportedOps: [{ opType: 'FancyOp', domain: 'x', reason: 'custom' }] },
    score: acc == null ? null : { accuracy: acc, latencyMs: ms, agreement: null },
  });
  it('says whether a model runs here', () => {
    expect(runVerdict(teacher, [{ device: 'cpu', available: true }]).text).toBe('Runs here on CPU.');
    expect(runVerdict(c('x', null, null, false).inspection!, []).text).toMatch(/does not support FancyOp/);
  });
  it('prefers the faster of two about equally accurate models', () => {
    const r = recommendTeacher([c('big', 0.91, 3), c('small', 0.905, 1), c('weak', 0.7, 0.5)], []);
    expect(r.path).toBe('/m/small.onnx');
    expect(r.sentence).toMatch(/^Use small: it gets 90.5% .* 1 other model is about as accurate but slower/);
    expect(recommendTeacher([], []).sentence).toMatch(/Add at least one/);
    expect(recommendTeacher([c('x', null, null, false)], []).path).toBeNull();
  });

  // a: 92.4 % at 2 ms, b: 91.0 % at 1.5 ms, w: 88.0 % at 1 ms (scored on the same items).
  const abw = (): Candidate[] => [c('a', 0.924, 2), c('b', 0.91, 1.5), c('w', 0.88, 1)];
  const ens = (members: string[], accuracy: number, samples: number, gains: number, losses: number): EnsembleScore => ({
    members: members.map((m) => `/m/${m}.onnx`), accuracy, samples, gains, losses, latencyMs: members.length * 1.75, sizeBytes: members.length * 1_000_000,
  });
  it('recommends an ensemble that is clearly better, with the cost in plain words', () => {
    // +0.7 points on 2,000 items, 30 items won and 16 lost: 14 ≥ 2·√46 = 13.6.
    const r = recommendTeacher(abw(), [], [ens(['a', 'b'], 0.931, 2000, 30, 16)]);
    expect(r.path).toBeNull();
    expect(r.ensemble?.members.map((m) => m.name)).toEqual(['a', 'b']);
    expect(r.sentence).toBe(
      'Use the ensemble of a and b: 93.1% vs 92.4% for a alone on 2,000 items. ' +
        'Distilling from both runs each teacher over the training data once (about 1.8× the teacher time of a alone); the training steps are not slower.',
    );
  });
  it('keeps the single best model when the ensemble gain is marginal, noisy, or on few items', () => {
    const cases: [EnsembleScore, RegExp][] = [
      [ens(['a', 'b'], 0.927, 2000, 16, 10), /too small a gain to pay for distilling from 2 teachers/], // +0.3 points
      [ens(['a', 'b'], 0.934, 500, 20, 15), /within the noise/], // +1 point, but 20 won vs 15 lost
      [ens(['a', 'b'], 0.964, 100, 4, 0), /only on 100 items, too few to tell/], // +4 points on 100 items
    ];
    for (const [e, why] of cases) {
      const r = recommendTeacher(abw(), [], [e]);
      expect(r.ensemble).toBeNull();
      expect(r.path).toBe('/m/a.onnx');
      expect(r.sentence).toMatch(/^Use a: it gets 92.4%/);
      expect(r.sentence).toMatch(why);
    }
  });
  it('takes a third teacher only when it adds the margin again', () => {
    const pair = ens(['a', 'b'], 0.94, 2000, 50, 18);
    expect(recommendTeacher(abw(), [], [pair, ens(['a', 'b', 'w'], 0.942, 2000, 56, 20)]).ensemble?.score).toEqual(pair);
    const triple = ens(['a', 'b', 'w'], 0.946, 2000, 62, 18);
    const r = recommendTeacher(abw(), [], [pair, triple]);
    expect(r.ensemble?.score).toEqual(triple);
    expect(r.sentence).toMatch(/^Use the ensemble of a, b and w: 94.6% .* Distilling from all 3 runs/);
  });
  it('never recommends an ensemble of unlike, removed or unrunnable models', () => {
    const good = ens(['a', 'b'], 0.95, 2000, 70, 18);
    const tenClasses = abw();
    const otherClasses = tenClasses.map((x) => (x.name === 'b' ? { ...x, inspection: { ...teacher, outputs: [{ name: 'logits', type: 'float32', shape: ['batch', 5] }] } } : x));
    const otherInput = tenClasses.map((x) => (x.name === 'b' ? { ...x, inspection: { ...teacher, inputs: [{ name: 'input', type: 'float32', shape: ['batch', 3, 28, 28] }] } } : x));
    const removed = tenClasses.filter((x) => x.name !== 'b');
    const broken = tenClasses.map((x) => (x.name === 'b' ? c('b', 0.91, 1.5, false) : x));
    expect(usableEnsembles(tenClasses, [], [good])).toHaveLength(1);
    for (const list of [otherClasses, otherInput, removed, broken]) {
      expect(usableEnsembles(list, [], [good])).toEqual([]);
      expect(recommendTeacher(list, [], [good]).ensemble).toBeNull();
    }
    // A batch dimension named differently does not make models unlike.
    const renamedBatch = tenClasses.map((x) => (x.name === 'b' ? { ...x, inspection: { ...teacher, inputs: [{ name: 'x', type: 'float32', shape: ['N', 1, 28, 28] }] } } : x));
    expect(recommendTeacher(renamedBatch, [], [good]).ensemble?.name).toBe('a and b');
  });
  it('asks for ensembles only when there are two models to combine', () => {
    expect(scoringConfig(['/m/a.onnx'], '/d')).not.toHaveProperty('ensembles');
    expect(scoringConfig(['/m/a.onnx', '/m/b.onnx'], '/d')).toMatchObject({ models: ['/m/a.onnx', '/m/b.onnx'], data: '/d', limit: 500, ensembles: true });
  });
});

describe('routes and history filters', () => {
  it('round-trips hash routes', () => {
    for (const r of [{ name: 'home' }, { name: 'run', id: 'exp_1' }, { name: 'compare', ids: ['exp_1', 'exp_2'], baseline: 'exp_2' }, { name: 'inspect', path: '/a b/m.onnx' }, { name: 'compress' }, { name: 'compress', data: '/data/fashion mnist' }] as const) {
      expect(parseHash(hrefOf(r as never))).toEqual(r);
    }
    expect(parseHash('#/nope')).toEqual({ name: 'home' });
  });
  it('maps filters to listExperiments params and toggles sort', () => {
    expect(toParams({ ...DEFAULT_FILTERS, search: ' x ', kind: 'distill', tag: 't', sort: 'accuracy' })).toEqual({ order: 'desc', sort: { metric: 'testAccuracy' }, search: 'x', kinds: ['distill'], tags: ['t'] });
    const f = toggleSort(DEFAULT_FILTERS, 'createdAt');
    expect(f.order).toBe('asc');
    expect(toggleSort(f, 'name')).toMatchObject({ sort: 'name', order: 'asc' });
  });
});

describe('where a run trained', () => {
  const loss = { device: 'webgpu', step: 1234, reason: 'WebGPU device lost (1)', message: 'The GPU (webgpu) stopped responding at step 1,234; continuing on the CPU.' };
  it('says when the GPU stopped responding during training', () => {
    const s = { device: 'cpu', trainedOn: 'cpu', fallbackReason: loss.message, deviceLoss: loss };
    expect(deviceNote(s)).toBe('Trained on the CPU after the GPU (webgpu) stopped responding at step 1,234.');
    expect(trainedOn(s)).toBe('cpu');
  });
  it('tells a loss before training from one while measuring the student', () => {
    const teacher = { ...loss, step: 0, during: "computing the teacher's outputs" };
    expect(deviceNote({ device: 'cpu', trainedOn: 'cpu', deviceLoss: teacher })).toBe("Trained on the CPU after the GPU (webgpu) stopped responding while computing the teacher's outputs.");
    const measuring = { ...loss, step: 0, during: 'measuring the student' };
    const s = { device: 'cpu', trainedOn: 'webgpu', deviceLoss: measuring };
    expect(deviceNote(s)).toBe('Trained on the GPU (webgpu); it stopped responding while measuring the student, which was then done on the CPU.');
    expect(trainedOn(s)).toBe('webgpu');
  });
  it('shows why the GPU did not start, and nothing for a run where it was asked to', () => {
    expect(deviceNote({ device: 'cpu', fallbackReason: 'WebGPU is not available (no adapter); running on the CPU.', deviceLoss: null })).toBe('WebGPU is not available (no adapter); running on the CPU.');
    expect(deviceNote({ device: 'webgpu', trainedOn: 'webgpu', fallbackReason: null, deviceLoss: null })).toBeNull();
    // Older summaries have no trainedOn: the device they ended on.
    expect(trainedOn({ device: 'cuda' })).toBe('cuda');
    expect(deviceNote(null)).toBeNull();
  });
});

describe('results, reports, charts', () => {
  const detail = {
    experiment: {
      id: 'exp_1', projectId: null, kind: 'distill' as const, name: 'Run | 1', status: 'succeeded' as const,
      config: { teachers: ['/m/teacher.onnx'], student: 'cnn:8,16/32', data: '/d' },
      summary: { teacher: { testAccuracy: 0.9 }, student: { path: '/a/student.onnx', parameters: 26000, sizeBytes: 104000 }, metrics: { testAccuracy: 0.86, agreement: 0.92 } },
      error: null, parentId: null, teacherModelId: null, studentModelId: null, datasetId: null, createdAt: 0, startedAt: 0, finishedAt: 1, pinned: false, tags: ['a'],
    },
    metrics: [], notes: [{ id: 1, experimentId: 'exp_1', author: 'me', body: '<b>ok</b>', createdAt: 0 }], benchmarks: [], artifacts: [], job: null, resumable: false,
  };
  const child = {
    ...detail,
    experiment: { ...detail.experiment, id: 'exp_2', kind: 'quantize' as const, parentId: 'exp_1', config: { method: 'dynamic' }, summary: { method: 'dynamic', sizeBytes: { before: 104000, after: 30000 }, accuracy: { before: 0.86, after: 0.855 }, latencyMs: { before: 0.5, after: 0.3 }, layers: [{ name: 'fc1', op: 'Gemm', precision: 'int8' }] } },
    notes: [],
  };
  it('builds teacher → student → quantized rows', () => {
    const models = modelsOf(detail, [child]);
    expect(models.map((m) => m.role)).toEqual(['teacher', 'student', 'quantized']);
    expect(models[2]).toMatchObject({ accuracy: 0.855, sizeBytes: 30000, latencyMs: 0.3 });
    expect(layerRows(child.experiment.summary)).toEqual([{ name: 'fc1', op: 'Gemm', precision: 'int8', sensitivity: null, params: null }]);
    expect(num({ a: { b: 2 } }, 'x', 'a.b')).toBe(2);
  });
  it('writes Markdown and escaped HTML reports', () => {
    const models = modelsOf(detail, [child]);
    const md = markdownReport({ detail, models, layers: layerRows(child.experiment.summary), recommendation: 'Use it.' });
    expect(md).toContain('# Run | 1');
    expect(md).toContain('| Quantized (dynamic) | 85.5% |');
    expect(md).toContain('## Precision per layer');
    const html = htmlReport({ detail, models, layers: [], recommendation: null });
    expect(html).toContain('&lt;b&gt;ok&lt;/b&gt;');
    expect(html).not.toContain('<script');
    expect(escapeHtml(`"'&`)).toBe('&quot;&#39;&amp;');
  });
  it('makes round ticks; aligns lines on one x axis for uPlot', () => {
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const lines = [
      { name: 'a', xs: [1, 2, 3], ys: [1, null, 3], color: 'red' },
      { name: 'b', xs: [3, 4], ys: [0.5, Number.NaN], color: 'blue' },
    ];
    expect(alignLines(lines)).toEqual({ xs: [1, 2, 3, 4], ys: [[1, null, 3, null], [null, null, 0.5, null]] });
    expect(lastValues(lines)).toEqual([{ x: 3, y: 3 }, { x: 3, y: 0.5 }]);
    expect(alignLines([])).toEqual({ xs: [], ys: [] });
  });
});

describe('model graph view', () => {
  const graph = {
    truncated: false,
    nodes: [
      { name: 'conv', opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'] },
      { name: 'relu', opType: 'Relu', inputs: ['c'], outputs: ['r'] },
      { name: 'add', opType: 'Add', inputs: ['r', 'c'], outputs: ['y'] },
    ],
  };
  const inputs = [{ name: 'x', type: 'float32', shape: [1, 3, 8, 8] }];
  const outputs = [{ name: 'y', type: 'float32', shape: [1, 3, 8, 8] }];
  it('lays out ops top to bottom with pills for inputs and outputs, edges for values only', () => {
    const l = graphLayout(graph, inputs, outputs);
    expect(l.nodes.map((n) => n.id)).toEqual(['in:x', 'n:0', 'n:1', 'n:2', 'out:y']);
    expect(l.edges.map((e) => e.id).sort()).toEqual(['in:x->n:0', 'n:0->n:1', 'n:0->n:2', 'n:1->n:2', 'n:2->out:y']);
    const y = Object.fromEntries(l.nodes.map((n) => [n.id, n.y]));
    expect(y['in:x']!).toBeLessThan(y['n:0']!);
    expect(y['n:0']!).toBeLessThan(y['n:1']!);
    expect(y['n:1']!).toBeLessThan(y['n:2']!);
    expect(y['n:2']!).toBeLessThan(y['out:y']!);
    expect(l.edges.every((e) => e.points.length >= 2)).toBe(true);
    expect(l.width).toBeGreaterThan(0);
  });
  it('names sources, consumers, categories and a summary', () => {
    expect(sourcesOf(graph, inputs, 0).map((s) => s.source.kind)).toEqual(['input', 'weight', 'weight']);
    expect(sourcesOf(graph, inputs, 2)).toEqual([{ value: 'r', source: { kind: 'node', index: 1 } }, { value: 'c', source: { kind: 'node', index: 0 } }]);
    expect(consumersOf(graph, 0)).toEqual([{ value: 'c', consumers: [1, 2] }]);
    expect(categoryOf('Conv')).toBe('conv');
    expect(categoryOf('Frobnicate')).toBe('other');
    expect(graphSummary(graph, inputs)).toEqual({ depth: 3, branches: 1, weights: 2 });
  });
  it('fits a layout in a box without zooming in', () => {
    expect(fitView({ width: 200, height: 100 }, { width: 800, height: 500 })).toEqual({ k: 1, x: 300, y: 200 });
    const tall = fitView({ width: 400, height: 4000 }, { width: 800, height: 500 });
    expect(tall.k).toBe(0.7);
    expect(tall.y).toBe(0);
  });
});
