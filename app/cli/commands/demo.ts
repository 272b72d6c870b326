import type { RegisterCommand } from './index.js';
import { dirname, join, resolve } from 'node:path';
import { DEMO_EPOCHS, runDemo, type DemoResult } from '../../services/demo.js';
import { defaultDataDir, historyPath } from '../../store/index.js';
import { openHistory } from '../history.js';
import { printJson } from '../output.js';
import { createProgress, formatSeconds } from '../progress.js';
import { parseInteger } from '../parse.js';
import { resourcesDir } from '../resources.js';
import { UserError } from '../errors.js';

export const registerDemo: RegisterCommand = (program) => {
  program
    .command('demo')
    .description('Distil the bundled teacher into a small student, quantize it, and benchmark all three')
    .option('--db <path>', 'experiment history database')
    .option('--out <dir>', 'where to write the demo models (default: <data folder>/demo)')
    .option('--epochs <n>', 'training epochs', parseInteger, DEMO_EPOCHS)
    .option('--threads <n>', 'CPU threads', parseInteger)
    .option('--quick', 'a fast, smaller run (1,000 samples, short benchmarks) for smoke tests')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o: { db?: string; out?: string; epochs: number; threads?: number; quick?: boolean; json?: boolean }) => {
      const started = Date.now();
      const dbPath = resolve(o.db ?? historyPath(defaultDataDir()));
      const outDir = resolve(o.out ?? join(dirname(dbPath), 'demo'));
      const history = await openHistory(dbPath);
      const progress = createProgress();
      let result: DemoResult;
      try {
        result = await runDemo({
          store: history.store,
          resourcesDir: resourcesDir(),
          outDir,
          cacheDir: history.cacheDir,
          epochs: o.quick ? Math.min(o.epochs, 1) : o.epochs,
          threads: o.threads,
          limit: o.quick ? 1000 : undefined,
          onEvent: (e) => {
            if (e.kind === 'stage' || e.kind === 'info' || e.kind === 'fallback') progress.stage(e.message);
            else if (e.kind === 'step') progress.step(e.step, e.totalSteps, `epoch ${e.epoch + 1} loss ${e.loss.toFixed(4)} ${Math.round(e.samplesPerSecond)} samples/s ETA ${formatSeconds(e.etaSeconds)}`);
            else if (e.kind === 'epoch') progress.info(`epoch ${e.epoch}: val accuracy ${pct(e.accuracy)}, agreement ${pct(e.agreement)} (${e.seconds.toFixed(1)}s)`);
          },
        });
      } catch (err) {
        progress.stop();
        history.close();
        throw new UserError(err instanceof Error ? err.message : String(err));
      }
      progress.stop();
      history.close();
      const json = {
        experiments: result.experiments,
        teacher: result.teacher,
        student: result.student,
        quantized: result.quantized,
        recommended: result.recommended,
        recommendation: result.recommendation,
        device: result.device,
        seconds: (Date.now() - started) / 1000,
      };
      if (o.json) printJson(json);
      else printSummary(result, dbPath, (Date.now() - started) / 1000);
    });
};

const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
const kb = (b: number) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MB` : `${(b / 1024).toFixed(1)} KB`);

function printSummary(r: DemoResult, dbPath: string, seconds: number): void {
  const rows = [
    ['', 'size', 'latency p50', 'accuracy', 'agreement'],
    ...(
      [
        ['teacher', r.teacher],
        ['student', r.student],
        ['int8 student', r.quantized],
      ] as const
    ).map(([name, m]) => [name, kb(m.sizeBytes), `${m.latencyMs.p50.toFixed(3)} ms`, pct(m.accuracy), name === 'teacher' ? '—' : pct(m.agreement)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ')).join('\n');
  const smaller = r.teacher.sizeBytes / r.quantized.sizeBytes;
  const faster = r.teacher.latencyMs.p50 / r.quantized.latencyMs.p50;
  process.stdout.write(
    `\n${table}\n\n` +
      `The int8 student is ${smaller.toFixed(1)}x smaller and ${faster.toFixed(1)}x faster than the teacher.\n` +
      `${r.recommendation}\n` +
      `Recommended model: ${r.recommended}\n` +
      `Experiments ${r.experiments.join(', ')} saved in ${dbPath}\n` +
      `Finished in ${seconds.toFixed(0)} s on ${r.device}.\n`,
  );
}
