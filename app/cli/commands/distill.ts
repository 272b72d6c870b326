import { Command, InvalidArgumentError, Option } from 'commander';
import type { RegisterCommand } from './index.js';
import { distill, distillDefaults, type DistillEvent, type DistillResult } from '../../engine/distill/distill.js';
import { printJson } from '../output.js';
import { createProgress, formatSeconds } from '../progress.js';
import { parseDevice, parseNormalize, parseNumber, parseInteger } from '../parse.js';
import { UserError } from '../errors.js';
import { openHistory } from '../history.js';

export const registerDistill: RegisterCommand = (program) => {
  program
    .command('distill')
    .description('Train a small student model to imitate one or more teacher models')
    .requiredOption('--teacher <paths>', 'teacher model(s), comma-separated: T.onnx[,T2.onnx]')
    .requiredOption('--data <dataset>', 'IDX folder, image folder, CSV file or folder with train.csv/test.csv')
    .option('--student <template|file>', 'student template (mlp:128, cnn:8,16/32) or a student .onnx file; default: sized to a quarter of the teacher')
    .option('--unlabeled <dataset>', 'extra samples without labels (the teacher labels them)')
    .option('--labels-per-class <n>', 'keep labels for only N samples per class', parseInteger)
    .option('--normalize <mean,std>', 'normalise inputs: (x - mean) / std', parseNormalize)
    .option('--label-column <name>', 'CSV label column', 'label')
    .option('--seed <n>', 'random seed', parseInteger, distillDefaults.seed)
    .option('--epochs <n>', 'training epochs', parseInteger, distillDefaults.epochs)
    .option('--batch-size <n>', 'batch size', parseInteger, distillDefaults.batchSize)
    .option('--lr <x>', 'learning rate', parseNumber, distillDefaults.lr)
    .option('--temperature <t>', 'distillation temperature', parseNumber, distillDefaults.temperature)
    .option('--alpha <a>', 'weight of the teacher term (1 = teacher only, 0 = labels only)', parseNumber, distillDefaults.alpha)
    .option('--patience <n>', 'stop after N epochs without improvement', parseInteger)
    .option('--limit <n>', 'use at most N samples per split (quick trials)', parseInteger)
    .addOption(new Option('--augment <kind>', 'extra views of each training image, labelled by the teacher').choices(['none', 'shift', 'shift-flip']).default('none'))
    .option('--augment-views <n>', 'views per image with --augment, the original included', parseInteger, 4)
    .option('--feature-match <teacher:student[:weight]>', "also match a student tensor to a teacher tensor (names from 'distillery inspect --json')", parseFeatureMatch)
    .addOption(new Option('--device <device>', 'where to train').argParser(parseDevice).default('cpu'))
    .option('--threads <n>', 'CPU threads', parseInteger)
    .option('--workers <n|auto>', "data-parallel training threads, 1-8 or 'auto' (default: one per core, up to 4, for convolutional students on the CPU; 1 otherwise)", parseWorkers)
    .option('--out <file>', 'where to write the student', 'student.onnx')
    .option('--db <path>', 'experiment history database')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => {
      const progress = createProgress();
      const history = await openHistory(o.db);
      const teachers = String(o.teacher).split(',').map((s: string) => s.trim()).filter(Boolean);
      const experiment = history.start('distill', `distill ${o.student ?? 'auto'} from ${teachers.map((t: string) => t.split('/').pop()).join('+')}`, o);
      let result: DistillResult;
      try {
        result = await distill(
          {
            teachers,
            data: o.data,
            student: o.student,
            unlabeled: o.unlabeled,
            labelsPerClass: o.labelsPerClass,
            normalize: o.normalize,
            labelColumn: o.labelColumn,
            seed: o.seed,
            epochs: o.epochs,
            batchSize: o.batchSize,
            lr: o.lr,
            temperature: o.temperature,
            alpha: o.alpha,
            patience: o.patience,
            limit: o.limit,
            augment: o.augment,
            featureMatch: o.featureMatch,
            augmentViews: o.augmentViews,
            device: o.device,
            threads: o.threads,
            workers: o.workers,
            out: o.out,
            cacheDir: history.cacheDir,
          },
          (e) => {
            report(progress, e);
            experiment.event(e);
          },
        );
      } catch (err) {
        progress.stop();
        experiment.fail(err);
        history.close();
        throw err instanceof Error ? new UserError(err.message) : err;
      }
      progress.stop();
      const id = experiment.succeed(result);
      history.close();
      const json = {
        experimentId: id,
        device: result.device,
        trainedOn: result.trainedOn,
        workers: result.workers,
        student: result.student,
        teacher: result.teacher,
        metrics: result.metrics,
        data: result.data,
      };
      if (o.json) printJson(json);
      else printSummary(result, id);
    });
};

function report(progress: ReturnType<typeof createProgress>, e: DistillEvent): void {
  if (e.kind === 'stage') progress.stage(e.message);
  else if (e.kind === 'info' || e.kind === 'fallback') progress.info(e.message);
  else if (e.kind === 'step') progress.step(e.step, e.totalSteps, `epoch ${e.epoch + 1} loss ${e.loss.toFixed(4)} ${Math.round(e.samplesPerSecond)} samples/s ETA ${formatSeconds(e.etaSeconds)}`);
  else if (e.kind === 'epoch') {
    const acc = e.accuracy === null ? '' : ` val accuracy ${(e.accuracy * 100).toFixed(2)}%`;
    const agr = e.agreement === null ? '' : ` agreement ${(e.agreement * 100).toFixed(2)}%`;
    progress.info(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}${acc}${agr} (${e.seconds.toFixed(1)}s)`);
  }
}

const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);

function printSummary(r: DistillResult, id: string | null): void {
  const lines = [
    `Student written to ${r.student.path}`,
    `  parameters       ${r.student.parameters.toLocaleString('en-US')} (teacher ${r.teacher.parameters.toLocaleString('en-US')})`,
    `  size             ${(r.student.sizeBytes / 1024).toFixed(1)} KB`,
    `  test accuracy    ${pct(r.metrics.testAccuracy)} (teacher ${pct(r.teacher.testAccuracy)})`,
    `  agreement        ${pct(r.metrics.agreement)} with the teacher`,
    `  speed            ${Math.round(r.metrics.samplesPerSecond)} samples/s on ${speedDevice(r)}${r.workers > 1 ? ` (${r.workers} workers)` : ''}`,
  ];
  if (id) lines.push(`  experiment       ${id}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Where the training speed was measured. `device` is where the run ended, which is the CPU even
 * when only the final measurement of the student moved there.
 */
export function speedDevice(r: Pick<DistillResult, 'trainedOn' | 'deviceLoss'>): string {
  const loss = r.deviceLoss;
  if (loss && loss.during === undefined) return `${loss.device} until step ${loss.step.toLocaleString('en-US')}, then cpu`;
  return r.trainedOn;
}

/** --workers: 'auto' or 1..8 threads (the contract's range). */
export function parseWorkers(value: string): number | 'auto' {
  if (value === 'auto') return value;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n)) throw new InvalidArgumentError(`'${value}' is not 'auto' or a whole number from 1 to 8.`);
  if (n < 1 || n > 8) throw new InvalidArgumentError(`'${value}' is out of range; use 1 to 8 worker threads (1 = off), or 'auto'.`);
  return n;
}

/** TEACHER_TENSOR:STUDENT_TENSOR[:WEIGHT] (weight default 1). */
export function parseFeatureMatch(value: string): { teacherTensor: string; studentTensor: string; weight: number } {
  const parts = value.split(':');
  const weight = parts.length === 3 ? Number(parts[2]) : 1;
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1] || !(weight > 0)) {
    throw new InvalidArgumentError(`'${value}' should be TEACHER_TENSOR:STUDENT_TENSOR[:WEIGHT] with a positive weight.`);
  }
  return { teacherTensor: parts[0], studentTensor: parts[1], weight };
}

export type { Command };
