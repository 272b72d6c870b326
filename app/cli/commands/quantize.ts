// distillery quantize MODEL.onnx --method dynamic|static|int4|fp16|mixed|auto ...
import { stat } from 'node:fs/promises';
import { InvalidArgumentError, Option } from 'commander';
import type { RegisterCommand } from './index.js';
import { loadModel, saveModel } from '../../engine/onnx/io.js';
import { opsetVersion, type Model } from '../../engine/onnx/ir.js';
import {
  assertNotQuantized,
  convertFp16,
  quantizeDynamic,
  quantizeInt4,
  quantizeStatic,
  weightedNodes,
  type CalibrationMethod,
  type LayerReport,
} from '../../engine/quantize/index.js';
import { quantizeAuto, type AutoCandidate } from '../../engine/quantize/auto.js';
import {
  calibrationBatches,
  compareLogits,
  dropPoints,
  headOf,
  loadDataForModel,
  modelLogits,
  quickLatency,
  sliceOf,
  type DataForModel,
  type EvalSet,
} from '../../engine/quantize/evaluate.js';
import { quantizeMixed, type MixedResult } from '../../engine/quantize/mixed.js';
import { printJson } from '../output.js';
import { createProgress } from '../progress.js';
import { parseInteger, parseNormalize, parseNumber } from '../parse.js';
import { UserError } from '../errors.js';
import { openHistory } from '../history.js';

const METHODS = ['dynamic', 'static', 'int4', 'fp16', 'mixed', 'auto'] as const;
type Method = (typeof METHODS)[number];

function parseBlockSize(v: string): number {
  const n = parseInteger(v);
  if (![16, 32, 64, 128, 256].includes(n)) throw new InvalidArgumentError(`'${v}' is not a block size; use 32, 64 or 128 (16 and 256 work too).`);
  return n;
}

/** Lowest default-domain opset each method can work from (static raises 7..12 to 13 when safe). */
const MIN_OPSET: Record<Method, number> = { dynamic: 11, static: 7, int4: 11, fp16: 7, mixed: 11, auto: 11 };

export const registerQuantize: RegisterCommand = (program) => {
  program
    .command('quantize')
    .description('Make a model smaller (and usually faster) by lowering the precision of its weights and activations')
    .argument('<model>', 'float ONNX model')
    .addOption(new Option('--method <method>', 'quantization method').choices([...METHODS]).makeOptionMandatory())
    .option('--calib <dataset>', 'calibration data (static, mixed, auto): its train split is used')
    .option('--eval <dataset>', 'evaluation data: accuracy before/after on its test split')
    .option('--max-accuracy-drop <points>', 'largest accepted accuracy drop in percentage points (mixed, auto)', parseNumber, 1)
    .option('--per-channel', 'per-channel weight scales (dynamic; static always uses them unless --no-per-channel)')
    .option('--no-per-channel', 'per-tensor weight scales for static')
    .addOption(new Option('--calibration <method>', 'activation range estimate for static').choices(['minmax', 'percentile', 'entropy']).default('minmax'))
    .option('--calib-samples <n>', 'calibration samples (default 512)', parseInteger, 512)
    .option('--block-size <n>', 'int4 block size: 32, 64 or 128', parseBlockSize, 32)
    .option('--symmetric', 'int4: symmetric blocks (no zero points)')
    .option('--normalize <mean,std>', 'normalise inputs as the model was trained: (x - mean) / std', parseNormalize)
    .option('--limit <n>', 'read at most N samples per split of each dataset', parseInteger)
    .option('--threads <n>', 'CPU threads for the latency figures (default 1)', parseInteger, 1)
    .option('--out <file>', 'where to write the quantized model')
    .option('--db <path>', 'experiment history database')
    .option('--json', 'print one JSON document on stdout')
    .action(async (modelPath: string, o) => {
      const method = o.method as Method;
      if (!o.out) throw new UserError('say where to write the quantized model: add --out Q.onnx');
      if ((method === 'static' || method === 'mixed') && !o.calib) {
        throw new UserError(`${method === 'static' ? 'static quantization' : 'mixed precision'} needs calibration data: add --calib DATASET (e.g. --calib resources/sample-data/fashion-mnist-small)`);
      }
      if (method === 'auto' && !o.calib && !o.eval) {
        throw new UserError('auto needs data to measure accuracy on: add --calib DATASET (calibration) and/or --eval DATASET (evaluation)');
      }
      const progress = createProgress();
      let model: Model;
      try {
        model = await loadModel(modelPath);
      } catch (e) {
        throw new UserError(`cannot read ${modelPath}: ${(e as Error).message}`);
      }
      // Clear checks before any work.
      const v = opsetVersion(model, '') ?? 1;
      if (v < MIN_OPSET[method]) {
        throw new UserError(
          `${modelPath} imports ONNX opset ${v}, which ${method} quantization does not support (needs ${MIN_OPSET[method]} or newer); re-export the model with opset 13 or newer (e.g. torch.onnx.export(..., opset_version=17))`,
        );
      }
      try {
        assertNotQuantized(model);
      } catch (e) {
        throw new UserError(`${modelPath}: ${(e as Error).message}`);
      }
      if (method !== 'fp16' && weightedNodes(model).length === 0) {
        throw new UserError(`${modelPath}: nothing to quantize: the model has no Conv, MatMul or Gemm with constant weights`);
      }

      const history = await openHistory(o.db);
      const experiment = history.start('quantize', `quantize ${method} ${modelPath.split('/').pop()}`, { model: modelPath, ...o });
      try {
        const json = await runQuantize(model, modelPath, method, o, (m) => {
          progress.stage(m);
          const e = { kind: 'stage', message: m };
          experiment.event(e);
        });
        progress.stop();
        const id = experiment.succeed(json);
        history.close();
        const out = { experimentId: id, ...json };
        if (o.json) printJson(out);
        else printSummary(out);
      } catch (err) {
        progress.stop();
        experiment.fail(err);
        history.close();
        throw err instanceof Error ? new UserError(err.message) : err;
      }
    });
};

interface QuantizeJson {
  method: string;
  output: string;
  sizeBytes: { before: number; after: number };
  accuracy: { before: number | null; after: number | null } | null;
  agreement: number | null;
  sqnr: number | null;
  latencyMs: { before: number | null; after: number | null };
  layers: Array<{ name: string; op: string; precision: string; note?: string }>;
  verdict: string;
  recommendation?: 'use-quantized' | 'keep-float';
  chosen?: string;
  candidates?: Array<Omit<AutoCandidate, 'layers'>>;
  mixed?: { maxAccuracyDrop: number; budgetMet: boolean; layers: MixedResult['layers']; path: Array<Omit<MixedResult['path'][number], 'plan'> & { plan: Record<string, string> }> };
  data?: { calibration: string | null; calibrationSamples: number; evaluation: string | null; evaluationSamples: number; agreementOn: 'evaluation' | 'calibration' | null };
}

/** Random inputs shaped like the model's input when no data was given (latency only). */
function syntheticSet(model: Model): EvalSet | null {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1) return null;
  const t = inputs[0]!.type;
  if (t?.kind !== 'tensor' || !t.shape || t.shape.length < 1) return null;
  const sample = t.shape.slice(1);
  if (!sample.every((d): d is number => typeof d === 'number' && d > 0)) return null;
  const size = sample.reduce((a, d) => a * d, 1);
  const x = new Float32Array(4 * size);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = s / 4294967296;
  }
  return { inputName: inputs[0]!.name, x, y: null, count: 4, sampleShape: sample };
}

async function runQuantize(model: Model, modelPath: string, method: Method, o: Record<string, any>, stage: (m: string) => void): Promise<QuantizeJson> {
  const loadOpts = { ...(o.limit !== undefined ? { limit: o.limit as number } : {}), ...(o.normalize ? { normalize: o.normalize } : {}) };
  let calibData: DataForModel | null = null;
  let evalData: DataForModel | null = null;
  if (o.calib) {
    stage(`reading calibration data ${o.calib}`);
    calibData = await loadDataForModel(model, o.calib, loadOpts).catch((e) => {
      throw new UserError(`--calib: ${(e as Error).message}`);
    });
  }
  if (o.eval) {
    stage(`reading evaluation data ${o.eval}`);
    evalData = o.eval === o.calib && calibData ? calibData : await loadDataForModel(model, o.eval, loadOpts).catch((e) => {
      throw new UserError(`--eval: ${(e as Error).message}`);
    });
  }
  const calibSamples = Math.min(o.calibSamples as number, calibData?.train.count ?? 0);
  const calibSet = calibData ? headOf(calibData.train, calibSamples) : null;
  const calibration = calibSet ? calibrationBatches(calibSet, 64) : undefined;
  const evalSet = evalData?.test ?? null;
  const budget = o.maxAccuracyDrop as number;
  // Samples the mixed search decides on: train samples after the calibration ones when labelled.
  const selection = (() => {
    if (calibData && calibData.train.y && calibData.train.count - calibSamples >= 200) return sliceOf(calibData.train, calibSamples, calibSamples + 2000);
    return evalSet ?? calibSet;
  })();

  let result: { model: Model; layers: LayerReport[] };
  let disabledOptimizers: string[] | undefined;
  let extra: Partial<QuantizeJson> = {};
  stage(`quantizing (${method})`);
  const perChannelStatic = o.perChannel !== false;
  switch (method) {
    case 'dynamic':
      result = quantizeDynamic(model, { perChannel: o.perChannel === true });
      break;
    case 'static':
      result = await quantizeStatic(model, calibration!, { method: o.calibration as CalibrationMethod, perChannel: perChannelStatic });
      break;
    case 'int4':
      result = quantizeInt4(model, { blockSize: o.blockSize, symmetric: o.symmetric === true });
      break;
    case 'fp16':
      result = convertFp16(model);
      break;
    case 'mixed': {
      if (!selection) throw new UserError('mixed precision needs labelled data to measure sensitivity: add --calib DATASET or --eval DATASET');
      const r = await quantizeMixed(model, selection, {
        maxAccuracyDrop: budget,
        calibration: calibration!,
        int8Mode: 'static',
        padFirstConv: true,
        static: { method: o.calibration as CalibrationMethod, perChannel: perChannelStatic },
        int4: { blockSize: o.blockSize, symmetric: o.symmetric === true },
        onStep: (s) => stage(`mixed: ${s.changed ? `${s.changed.layer} ${s.changed.from} → ${s.changed.to}` : 'all layers at their lowest precision'}: ${(s.sizeBytes / 1024).toFixed(0)} KB, drop ${s.accuracyDrop.toFixed(2)} points`),
      });
      result = { model: r.model, layers: r.reportLayers };
      extra = {
        mixed: {
          maxAccuracyDrop: budget,
          budgetMet: r.budgetMet,
          layers: r.layers,
          path: r.path.map((p) => ({ ...p })),
        },
      };
      break;
    }
    case 'auto': {
      const set = evalSet ?? selection!;
      const r = await quantizeAuto(model, {
        maxAccuracyDrop: budget,
        ...(calibration ? { calibration } : {}),
        evalSet: set,
        ...(selection && selection !== set ? { selectionSet: selection } : {}),
        int4: { blockSize: o.blockSize, symmetric: o.symmetric === true },
        threads: o.threads,
        onProgress: stage,
      });
      result = { model: r.model, layers: r.chosen.layers };
      disabledOptimizers = r.chosen.disabledOptimizers;
      extra = {
        recommendation: r.recommendation,
        chosen: r.chosen.id,
        verdict: r.verdict,
        candidates: r.candidates.map(({ layers: _l, ...c }) => c),
      };
      break;
    }
  }

  stage(`writing ${o.out}`);
  await saveModel(result.model, o.out);
  const before = (await stat(modelPath)).size;
  const after = (await stat(o.out)).size;

  // Accuracy, agreement (evaluation data, else calibration data) and batch-1 latency.
  stage('measuring');
  const agreementSet = evalSet ?? calibSet;
  let accuracy: QuantizeJson['accuracy'] = null;
  let agreement: number | null = null;
  let sqnrDb: number | null = null;
  let drop: number | null = null;
  if (agreementSet) {
    const ref = await modelLogits(model, agreementSet);
    const q = await modelLogits(result.model, agreementSet, disabledOptimizers ? { disabledOptimizers } : {});
    const c = compareLogits(ref.logits, q.logits, ref.classes, agreementSet.y);
    agreement = c.agreement;
    sqnrDb = Number.isFinite(c.sqnr) ? c.sqnr : null;
    if (evalSet && evalSet.y) {
      const refAcc = compareLogits(ref.logits, ref.logits, ref.classes, evalSet.y).accuracy;
      accuracy = { before: refAcc, after: c.accuracy };
      drop = dropPoints(refAcc, c);
    }
  }
  const timingSet = agreementSet ?? syntheticSet(model);
  let latency: QuantizeJson['latencyMs'] = { before: null, after: null };
  if (timingSet) {
    const threads = o.threads as number;
    const lb: number[] = [];
    const la: number[] = [];
    for (let r = 0; r < 2; r++) {
      lb.push((await quickLatency(model, timingSet, [1], { threads, seconds: 0.5 }))[1]!);
      la.push((await quickLatency(result.model, timingSet, [1], { threads, seconds: 0.5, ...(disabledOptimizers ? { disabledOptimizers } : {}) }))[1]!);
    }
    latency = { before: Math.min(...lb), after: Math.min(...la) };
  }
  const verdict = extra.verdict ?? plainVerdict(method, before, after, latency, drop, budget);
  return {
    method,
    output: o.out,
    sizeBytes: { before, after },
    accuracy,
    agreement,
    sqnr: sqnrDb,
    latencyMs: latency,
    layers: result.layers.map((l) => ({ name: l.name, op: l.op, precision: l.precision, ...(l.note ? { note: l.note } : {}) })),
    verdict,
    ...extra,
    data: {
      calibration: o.calib ?? null,
      calibrationSamples: calibSet?.count ?? 0,
      evaluation: o.eval ?? null,
      evaluationSamples: evalSet?.count ?? 0,
      agreementOn: evalSet ? 'evaluation' : calibSet ? 'calibration' : null,
    },
  };
}

function plainVerdict(method: Method, before: number, after: number, lat: QuantizeJson['latencyMs'], drop: number | null, budget: number): string {
  const parts: string[] = [];
  parts.push(`${(before / after).toFixed(2)}x smaller`);
  if (lat.before !== null && lat.after !== null) {
    const r = lat.before / lat.after;
    parts.push(r >= 1 ? `${r.toFixed(2)}x faster at batch 1` : `SLOWER than the float model at batch 1 (${(1 / r).toFixed(2)}x its latency)`);
  }
  if (drop !== null) parts.push(`accuracy ${drop >= 0 ? '-' : '+'}${Math.abs(drop).toFixed(2)} points`);
  let s = `${method}: ${parts.join(', ')}.`;
  if (lat.before !== null && lat.after !== null && lat.after > lat.before) s += ' Keep the float model if speed matters.';
  if ((method === 'mixed') && drop !== null && drop > budget) s += ` The ${budget}-point budget was met on the selection data but not on the evaluation data.`;
  return s;
}

function printSummary(j: QuantizeJson & { experimentId: string }): void {
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${(v * 100).toFixed(2)}%`);
  const lines = [
    `Quantized model written to ${j.output}`,
    `  size        ${(j.sizeBytes.before / 1024).toFixed(1)} KB → ${(j.sizeBytes.after / 1024).toFixed(1)} KB`,
    `  accuracy    ${pct(j.accuracy?.before)} → ${pct(j.accuracy?.after)}`,
    `  agreement   ${pct(j.agreement)}`,
    `  latency     ${j.latencyMs.before?.toFixed(3) ?? 'n/a'} ms → ${j.latencyMs.after?.toFixed(3) ?? 'n/a'} ms (batch 1)`,
    `  layers      ${j.layers.map((l) => `${l.name}:${l.precision}`).join(' ')}`,
    `  verdict     ${j.verdict}`,
    `  experiment  ${j.experimentId}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
