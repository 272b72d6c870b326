// How repeatable is a benchmark? Measures the same model twice in one run (each time in a
// fresh child process, as `distillery bench` does) and prints the ratio of the two p50s.
//
//   npx tsx bench/repeatability.ts MODEL.onnx [--threads N] [--pairs K] [--json]
//   npx tsx bench/repeatability.ts --build /tmp/cnn.onnx      (builds the cnn:8,16/32 student first)
//
// With --pairs K (default 1) it repeats the pair K times and prints every ratio and their spread.
import { parseArgs } from 'node:util';
import { benchmarkModel } from '../app/engine/bench/index.js';
import { buildStudent, parseTemplate } from '../app/engine/distill/students.js';
import { saveModel } from '../app/engine/onnx/io.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: 'string' },
    pairs: { type: 'string', default: '1' },
    build: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

let model = positionals[0];
if (values.build) {
  const student = buildStudent({ template: parseTemplate('cnn:8,16/32'), sampleShape: [1, 28, 28], classes: 10, seed: 1 });
  await saveModel(student, values.build);
  model ??= values.build;
}
if (!model) {
  process.stderr.write('usage: npx tsx bench/repeatability.ts MODEL.onnx [--threads N] [--pairs K] [--json] | --build OUT.onnx\n');
  process.exit(2);
}

const threads = values.threads === undefined ? undefined : Number(values.threads);
const pairs = Math.max(1, Number(values.pairs));
const options = { device: 'cpu' as const, threads, batchSizes: [1] };
const rows: Array<{ first: number; second: number; ratio: number; firstCi: [number, number]; secondCi: [number, number] }> = [];
for (let i = 0; i < pairs; i++) {
  const a = await benchmarkModel(model, options);
  const b = await benchmarkModel(model, options);
  const ratio = b.latencyMs.p50 / a.latencyMs.p50;
  rows.push({ first: a.latencyMs.p50, second: b.latencyMs.p50, ratio, firstCi: a.latencyMs.ci95, secondCi: b.latencyMs.ci95 });
  if (!values.json) {
    process.stdout.write(
      `pair ${i + 1}: p50 ${a.latencyMs.p50.toFixed(4)} ms (CI ${a.latencyMs.ci95.map((v) => v.toFixed(4)).join('–')}, ${a.latencyMs.runs} runs) then ` +
        `${b.latencyMs.p50.toFixed(4)} ms (CI ${b.latencyMs.ci95.map((v) => v.toFixed(4)).join('–')}, ${b.latencyMs.runs} runs): ratio ${ratio.toFixed(4)}\n`,
    );
  }
}
const ratios = rows.map((r) => r.ratio);
const worst = Math.max(...ratios.map((r) => Math.abs(Math.log(r))));
if (values.json) {
  process.stdout.write(`${JSON.stringify({ model, threads: threads ?? null, pairs: rows, worstRatio: Math.exp(worst) }, null, 2)}\n`);
} else {
  process.stdout.write(`p50 ratio second/first: ${ratios.map((r) => r.toFixed(4)).join(', ')}; worst ${Math.exp(worst).toFixed(4)}x apart\n`);
}
