// Quantization quality on the sample teacher and a distilled student (issue #4): size ratio,
// accuracy and latency of each method, per-layer sensitivity, and mixed precision's size/accuracy
// trade-off curve — the full greedy path from "every layer at its lowest precision" to float, each
// step measured on the 10,000 test images — with the step each accuracy budget picks.
//   npx tsx bench/quant-curve.ts [teacher|student|all] [--student cnn:16,32/64] [--epochs 5] [--seconds 0.3]
// The student is distilled once with distill() (bench/quant-student.ts) and reused afterwards.
// Calibration: the first 512 training images; mixed-precision decisions: the next 2,000 training
// images ("selection"); all reported accuracies: the 10,000 test images. Latency: median ms, one
// thread, one session at a time, spinning off, `--seconds` per model and batch size (short: the
// latency columns are indicative; bench/quant-vs-torch.ts measures speed properly).
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../app/engine/onnx/io.js';
import type { Model } from '../app/engine/onnx/ir.js';
import {
  applyPrecisions,
  budgetCost,
  chooseStep,
  convertFp16,
  mixedPrecisionPath,
  modelBytes,
  nameWeightedNodes,
  padFirstConvChannels,
  quantizeDynamic,
  quantizeInt4,
  quantizeStatic,
  weightedLayers,
  type BudgetOn,
  type Precision,
} from '../app/engine/quantize/index.js';
import { calibrationBatches, compareLogits, headOf, loadDataForModel, modelLogits, quickLatency, sliceOf, type EvalSet } from '../app/engine/quantize/evaluate.js';
import { distilledStudent, FASHION_DIR, TEACHER_PATH } from './quant-student.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { student: { type: 'string', default: 'cnn:16,32/64' }, epochs: { type: 'string', default: '5' }, seconds: { type: 'string', default: '0.3' } },
});
const part = positionals[0] ?? 'all';
const seconds = Number(flags.seconds);
if (!['teacher', 'student', 'all'].includes(part) || !(seconds > 0)) {
  console.error('usage: npx tsx bench/quant-curve.ts [teacher|student|all] [--student cnn:16,32/64] [--epochs 5] [--seconds 0.3]');
  process.exit(2);
}
const BUDGETS = [0, 0.05, 0.1, 0.25, 0.5, 1, 2];
const DISAGREEMENT_BUDGETS = [0, 0.1, 0.25, 0.5, 1, 2];
const fmt = (v: number, d = 2): string => v.toFixed(d);
const pct = (v: number): string => `${fmt(v * 100)} %`;
const SHORT: Record<Precision, string> = { int4: 'int4', int8: 'int8', float16: 'fp16', float32: 'fp32' };
const planText = (plan: Record<string, Precision>): string => Object.entries(plan).map(([k, v]) => `${k}=${SHORT[v]}`).join(' ');

interface Row {
  label: string;
  model: Model;
}

async function report(name: string, model: Model): Promise<void> {
  const data = await loadDataForModel(model, FASHION_DIR, { limit: 10000 });
  const test = data.test;
  const calibSet = headOf(data.train, 512);
  const cal = calibrationBatches(calibSet, 64);
  const selection: EvalSet = sliceOf(data.train, 512, 2512);
  const floatSize = modelBytes(model);
  const ref = await modelLogits(model, test);
  const refAcc = compareLogits(ref.logits, ref.logits, 10, test.y).accuracy!;
  const named = nameWeightedNodes(model);
  const layers = weightedLayers(named);
  const params = layers.reduce((a, l) => a + l.params, 0);
  const convShare = layers.filter((l) => l.op === 'Conv').reduce((a, l) => a + l.params, 0) / params;
  console.log(`\n## ${name}: ${params.toLocaleString('en')} parameters (${fmt(convShare * 100, 1)} % in Conv layers), float32 ${(floatSize / 1024).toFixed(1)} KB, test accuracy ${pct(refAcc)} on ${test.count} images`);

  const measure = async (m: Model) => {
    const c = compareLogits(ref.logits, (await modelLogits(m, test)).logits, 10, test.y);
    const lat = await quickLatency(m, test, [1, 32], { threads: 1, seconds });
    return { ratio: modelBytes(m) / floatSize, acc: c.accuracy!, drop: (refAcc - c.accuracy!) * 100, agr: c.agreement, sqnr: c.sqnr, b1: lat[1]!, b32: lat[32]! };
  };
  const sqnrText = (v: number): string => (Number.isFinite(v) ? fmt(v, 1) : '∞');

  // 1. Each method alone.
  const padded = padFirstConvChannels(model, 4).model;
  const conv1 = layers.find((l) => l.op === 'Conv')?.name ?? '';
  const allInt4 = Object.fromEntries(layers.map((l) => [l.name, 'int4' as Precision]));
  const lowest = (block: number) => applyPrecisions(named, Object.fromEntries(layers.map((l) => [l.name, l.op === 'Conv' ? 'int8' : 'int4'])), { calibration: cal, int8Mode: 'static', padFirstConv: true, int4: { blockSize: block } });
  const rows: Row[] = [
    { label: 'fp32', model },
    { label: 'int8 static minmax', model: (await quantizeStatic(model, cal)).model },
    { label: 'int8 static, first conv padded to 4', model: (await quantizeStatic(padded, cal)).model },
    { label: 'int8 static, first conv float', model: (await quantizeStatic(model, cal, { firstConvFloat: true })).model },
    { label: 'int8 dynamic (MatMul/Gemm only)', model: quantizeDynamic(model).model },
    { label: 'int4 MatMul/Gemm (block 32) + fp32 conv', model: quantizeInt4(model, { blockSize: 32, symmetric: false, keepConvFloat: true }).model },
    { label: 'int4 MatMul/Gemm (block 32) + int8 conv', model: (await lowest(32)).model },
    { label: 'int4 MatMul/Gemm (block 64) + int8 conv', model: (await lowest(64)).model },
    { label: 'int4 MatMul/Gemm (block 128) + int8 conv', model: (await lowest(128)).model },
    { label: 'int4 all layers, convs too (block 32)', model: quantizeInt4(model, { blockSize: 32, symmetric: false }).model },
    { label: 'int4 all layers, convs too (block 64)', model: quantizeInt4(model, { blockSize: 64, symmetric: false }).model },
    { label: 'int4 all layers, convs too (block 128)', model: quantizeInt4(model, { blockSize: 128, symmetric: false }).model },
    { label: 'int4 all but the first conv (fp32; block 128)', model: quantizeInt4(model, { blockSize: 128, symmetric: false, excludeNodes: [conv1] }).model },
    { label: 'int4 all but the first conv (int8 static; block 128)', model: (await applyPrecisions(named, { ...allInt4, [conv1]: 'int8' }, { calibration: cal, int8Mode: 'static', padFirstConv: true, int4: { blockSize: 128 } })).model },
    { label: 'fp16', model: convertFp16(model).model },
  ];
  console.log('\n| variant | size ratio | test acc. | drop (pts) | agreement | logits SQNR dB | b1 ms | b32 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  const measured = new Map<string, Awaited<ReturnType<typeof measure>>>();
  for (const r of rows) {
    const m = await measure(r.model);
    measured.set(r.label, m);
    console.log(`| ${r.label} | ${fmt(m.ratio, 3)} | ${pct(m.acc)} | ${fmt(m.drop)} | ${pct(m.agr)} | ${sqnrText(m.sqnr)} | ${fmt(m.b1, 3)} | ${fmt(m.b32, 3)} |`);
  }

  // 2. Sensitivity and the greedy path (computed once on the selection images).
  const t0 = Date.now();
  const mp = await mixedPrecisionPath(model, selection, { calibration: cal, int8Mode: 'static', padFirstConv: true, int4Conv: true, maxAccuracyDrop: -1, fullPath: true });
  console.log(`\nPer-layer sensitivity (one layer lowered, the rest float; ${selection.count} selection images; SQNR of the logits / accuracy drop). Path: ${mp.path.length} steps in ${((Date.now() - t0) / 1000).toFixed(0)} s.`);
  console.log('\n| layer | op | params | int4 SQNR dB / drop pts | int8 SQNR dB / drop pts | fp16 SQNR dB |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const s of mp.sensitivity) {
    const c = (p: 'int4' | 'int8') => (s.byPrecision[p] ? `${sqnrText(s.byPrecision[p]!.sqnr)} / ${fmt(s.byPrecision[p]!.accuracyDrop)}` : '—');
    console.log(`| ${s.name} | ${s.op} | ${s.params} | ${c('int4')} | ${c('int8')} | ${s.byPrecision.float16 ? sqnrText(s.byPrecision.float16.sqnr) : '—'} |`);
  }
  console.log('\nThe trade-off curve: the greedy path, each step raising the layer that hurts most one precision up (test figures):');
  console.log('\n| step | raised | plan | size ratio | selection drop / disagreement (pts) | test acc. | test drop (pts) | test agreement | b1 ms | b32 ms |');
  console.log('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|');
  const stepFigures: Array<Awaited<ReturnType<typeof measure>>> = [];
  for (const [i, step] of mp.path.entries()) {
    const m = await measure((await applyPrecisions(mp.named, step.plan, { calibration: cal, int8Mode: 'static', padFirstConv: true })).model);
    stepFigures.push(m);
    const raised = step.changed ? `${step.changed.layer} ${SHORT[step.changed.from]}→${SHORT[step.changed.to]}` : 'start: all lowest';
    console.log(`| ${i} | ${raised} | ${planText(step.plan)} | ${fmt(m.ratio, 3)} | ${fmt(step.accuracyDrop)} / ${fmt(budgetCost(step, 'agreement'))} | ${pct(m.acc)} | ${fmt(m.drop)} | ${pct(m.agr)} | ${fmt(m.b1, 3)} | ${fmt(m.b32, 3)} |`);
  }
  const budgetTable = (on: BudgetOn, budgets: number[], what: string): void => {
    console.log(`\nWhat each ${what} budget picks (the first step within it on the selection images; test figures):`);
    console.log('\n| budget (pts) | step | plan | size ratio | test drop (pts) | test agreement | b1 ms | b32 ms |');
    console.log('|---:|---:|---|---:|---:|---:|---:|---:|');
    const picked = new Set<number>();
    for (const budget of budgets) {
      const { index, met } = chooseStep(mp.path, budget, on);
      picked.add(index);
      const m = stepFigures[index]!;
      console.log(`| ${budget} | ${index} | ${planText(mp.path[index]!.plan)}${met ? '' : ' (not met)'} | ${fmt(m.ratio, 3)} | ${fmt(m.drop)} | ${pct(m.agr)} | ${fmt(m.b1, 3)} | ${fmt(m.b32, 3)} |`);
    }
    console.log(`${picked.size} different plans for ${budgets.length} budgets.`);
  };
  budgetTable('accuracy', BUDGETS, 'accuracy-drop');
  budgetTable('agreement', DISAGREEMENT_BUDGETS, "disagreement-with-float (budgetOn: 'agreement')");

  // 3. Against the bars.
  const int8 = measured.get('int8 static minmax')!;
  const int4Rows = [...measured.entries()].filter(([k]) => k.startsWith('int4'));
  const [int4Label, int4Best] = int4Rows.reduce((a, b) => (b[1].ratio < a[1].ratio ? b : a));
  const pathBest = stepFigures.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log(`\nBars: int8 size ratio ${fmt(int8.ratio, 3)} (≤ 0.27: ${mark(int8.ratio <= 0.27)}); int8 static drop ${fmt(int8.drop)} pts (≤ 0.5: ${mark(int8.drop <= 0.5)}); ` +
    `best int4 size ratio ${fmt(int4Best.ratio, 3)} (${int4Label}, drop ${fmt(int4Best.drop)} pts; ≤ 0.16: ${mark(int4Best.ratio <= 0.16)}); ` +
    `smallest mixed-precision step ${fmt(pathBest.ratio, 3)} (drop ${fmt(pathBest.drop)} pts).`);
}

console.log(`CPU: ${cpus()[0]?.model} x${cpus().length}; onnxruntime-node ${ort.env.versions.common}; Node ${process.version}`);
if (part === 'teacher' || part === 'all') await report('Sample teacher (cnn:32,64/256)', await loadModel(TEACHER_PATH));
if (part === 'student' || part === 'all') {
  const path = await distilledStudent(flags.student, Number(flags.epochs));
  await report(`Distilled student (${flags.student}, ${flags.epochs} epochs)`, await loadModel(path));
}
