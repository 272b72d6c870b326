// distillery quantize MODEL.onnx --method dynamic|static|int4|fp16|mixed|auto ...
import { InvalidArgumentError, Option } from 'commander';
import type { RegisterCommand } from './index.js';
import { loadModel } from '../../engine/onnx/io.js';
import type { Model } from '../../engine/onnx/ir.js';
import { checkQuantizable, QUANTIZE_METHOD_NAMES, runQuantize, type QuantizeMethodName, type QuantizeReport } from '../../engine/quantize/run.js';
import { printJson } from '../output.js';
import { createProgress } from '../progress.js';
import { parseInteger, parseNormalize, parseNumber } from '../parse.js';
import { UserError } from '../errors.js';
import { openHistory } from '../history.js';

const METHODS = QUANTIZE_METHOD_NAMES;
type Method = QuantizeMethodName;

function parseBlockSize(v: string): number {
  const n = parseInteger(v);
  if (![16, 32, 64, 128, 256].includes(n)) throw new InvalidArgumentError(`'${v}' is not a block size; use 32, 64 or 128 (16 and 256 work too).`);
  return n;
}


export const registerQuantize: RegisterCommand = (program) => {
  program
    .command('quantize')
    .description('Make a model smaller (and usually faster) by lowering the precision of its weights and activations')
    .argument('<model>', 'float ONNX model')
    .addOption(new Option('--method <method>', 'quantization method').choices([...METHODS]).makeOptionMandatory())
    .option('--calib <dataset>', 'calibration data (static, mixed, auto): its train split is used')
    .option('--eval <dataset>', 'evaluation data: accuracy before/after on its test split')
    .option('--max-accuracy-drop <points>', 'largest accepted accuracy drop in percentage points (mixed, auto)', parseNumber, 1)
    .addOption(new Option('--objective <what>', 'mixed: the smallest plan within the budget, or the fastest (int8 / float32 layers only)').choices(['size', 'latency']).default('size'))
    .option('--per-channel', 'per-channel weight scales (dynamic; static always uses them unless --no-per-channel)')
    .option('--no-per-channel', 'per-tensor weight scales for static')
    .addOption(new Option('--calibration <method>', 'activation range estimate for static').choices(['minmax', 'percentile', 'entropy']).default('minmax'))
    .option('--calib-samples <n>', 'calibration samples (default 512)', parseInteger, 512)
    .option('--block-size <n>', 'int4 block size: 32, 64 or 128', parseBlockSize, 32)
    .option('--symmetric', 'int4: symmetric blocks (no zero points)')
    .option('--keep-conv-float', 'int4: leave Conv layers float (only MatMul/Gemm weights become int4)')
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
      try {
        checkQuantizable(model, modelPath, method);
      } catch (e) {
        throw new UserError((e as Error).message);
      }

      const history = await openHistory(o.db);
      const experiment = history.start('quantize', `quantize ${method} ${modelPath.split('/').pop()}`, { model: modelPath, ...o });
      try {
        const json = await runQuantize(model, modelPath, { ...o, method }, (m) => {
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

function printSummary(j: QuantizeReport & { experimentId: string }): void {
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
