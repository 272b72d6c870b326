// `npm run bench [-- NAME ...]`: runs the benchmark scripts one after the other (never two at
// once: they measure time). Each prints its own figures; docs/BENCHMARKS.md records them.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const suites: Record<string, { script: string; args: string[]; what: string }> = {
  'onnx-io': { script: 'onnx-io.ts', args: ['--mb', '500'], what: 'parse/serialize speed and memory of a 500 MB model vs protobufjs' },
  store: { script: 'store-bench.ts', args: [], what: 'history queries on 10,000 experiments and a 100,000-point series' },
  quant: { script: 'quant-bench.ts', args: [], what: 'int8/int4/fp16 latency against float' },
  'quant-vs-torch': { script: 'quant-vs-torch.ts', args: ['cnn'], what: 'our int8 against PyTorch int8 on the sample teacher' },
  'quant-curve': { script: 'quant-curve.ts', args: [], what: 'quantization quality and the mixed-precision size/accuracy curve, teacher and distilled student' },
  'train-vs-torch': { script: 'train-vs-torch.ts', args: [], what: 'training step throughput against PyTorch' },
  'train-distill': { script: 'train-distill.ts', args: [], what: 'distillation quality on full Fashion-MNIST' },
  probes: { script: 'probe-overhead.ts', args: [], what: 'inspectModel/detectDevices in a child process against in-process' },
  load: { script: 'load.ts', args: ['--minutes', '10'], what: '4 jobs + a streaming UI client for 10 minutes: server memory, API latency, event gaps' },
};

const asked = process.argv.slice(2);
if (asked.includes('--list')) {
  for (const [name, s] of Object.entries(suites)) console.log(`${name.padEnd(16)} ${s.what}`);
  process.exit(0);
}
const names = asked.length ? asked : ['onnx-io', 'store', 'quant', 'quant-vs-torch', 'train-vs-torch'];
for (const name of names) {
  const suite = suites[name];
  if (!suite) {
    console.error(`unknown benchmark '${name}'; choose from: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name}: ${suite.what}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, suite.script), ...suite.args], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`benchmark '${name}' failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}
