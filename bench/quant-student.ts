// The distilled student the quantization benches use: distill() with the bundled teacher on full
// Fashion-MNIST (the product pipeline, default recipe), saved once and reused by later runs (the
// file name carries template, epochs and seed).
//   npx tsx bench/quant-student.ts [TEMPLATE=cnn:16,32/64] [EPOCHS=5]   → prints the student's path
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distill, distillDefaults } from '../app/engine/distill/distill.js';

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
export const TEACHER_PATH = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'resources/sample-teacher/fashion-cnn.onnx');
const WORK = process.env.QUANT_BENCH_OUT ?? join(tmpdir(), 'distillery-quant-bench');

/** Path of the distilled student, training it first when it is not there yet. */
export async function distilledStudent(template = 'cnn:16,32/64', epochs = 5, log: (m: string) => void = console.error): Promise<string> {
  mkdirSync(join(WORK, 'cache'), { recursive: true });
  const out = join(WORK, `student-${template.replace(/[^a-z0-9]+/gi, '_')}-e${epochs}-s${distillDefaults.seed}.onnx`);
  if (existsSync(out)) {
    log(`student: reusing ${out}`);
    return out;
  }
  log(`student: distilling ${template} from the sample teacher, ${epochs} epochs on full Fashion-MNIST (one thread; a few minutes)…`);
  const r = await distill({ teachers: [TEACHER_PATH], data: FASHION_DIR, student: template, epochs, threads: 1, out, cacheDir: join(WORK, 'cache') });
  const pct = (v: number | null): string => (v === null ? '—' : `${(v * 100).toFixed(2)} %`);
  log(`student: test accuracy ${pct(r.metrics.testAccuracy)} (teacher ${pct(r.teacher.testAccuracy)}), agreement ${pct(r.metrics.agreement)} → ${out}`);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await distilledStudent(process.argv[2], process.argv[3] ? Number(process.argv[3]) : undefined));
}
