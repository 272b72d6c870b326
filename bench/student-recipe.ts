// The demo's student recipe, measured away from the demo's own test set: distil the bundled
// teacher on the bundled sample (the demo's configuration, with one setting changed per variant)
// and score teacher and student on Fashion-MNIST test images 2,000–9,999, which neither the
// sample (train: the first 10,000 training images, test: the first 2,000 test images) nor the
// teacher has seen. Paired scores on 8,000 images: differences of a few tenths of a point show.
//
//   npx tsx bench/student-recipe.ts '{"name":"demo"}' '{"name":"alpha1","alpha":1}' ...
//
// Each argument is a JSON object of DistillOptions overrides plus a "name". Needs Debian's
// dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { distill, type DistillOptions } from '../app/engine/distill/distill.js';
import { DEMO_EPOCHS, sampleDataPath, sampleTeacherPath } from '../app/services/demo.js';

const FULL = '/usr/share/datasets/fashion-mnist';
const [FROM, TO] = [2000, 10000];

async function heldOut(): Promise<{ x: Float32Array; y: Uint8Array; n: number }> {
  const images = gunzipSync(await readFile(join(FULL, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(await readFile(join(FULL, 't10k-labels-idx1-ubyte.gz')));
  const n = TO - FROM;
  const x = Float32Array.from(images.subarray(16 + FROM * 784, 16 + TO * 784), (v) => v / 255);
  return { x, y: labels.subarray(8 + FROM, 8 + TO), n };
}

async function accuracy(model: string, data: { x: Float32Array; y: Uint8Array; n: number }): Promise<{ acc: number; predictions: Uint8Array }> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 2 });
  const predictions = new Uint8Array(data.n);
  const B = 500;
  for (let i = 0; i < data.n; i += B) {
    const m = Math.min(B, data.n - i);
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data.x.subarray(i * 784, (i + m) * 784), [m, 1, 28, 28]) });
    const logits = out[session.outputNames[0]!]!.data as Float32Array;
    const classes = logits.length / m;
    for (let r = 0; r < m; r++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[r * classes + c]! > logits[r * classes + best]!) best = c;
      predictions[i + r] = best;
    }
  }
  await session.release();
  let right = 0;
  predictions.forEach((p, i) => (right += p === data.y[i] ? 1 : 0));
  return { acc: right / data.n, predictions };
}

const resources = resolve('resources');
const teacher = resolve(sampleTeacherPath(resources));
const data = await heldOut();
const t = await accuracy(teacher, data);
console.log(`teacher: ${(100 * t.acc).toFixed(2)} % on test images ${FROM}–${TO - 1}`);
const dir = await mkdtemp(join(tmpdir(), 'distillery-recipe-'));
try {
  for (const arg of process.argv.slice(2)) {
    const { name, ...overrides } = JSON.parse(arg) as Partial<DistillOptions> & { name: string };
    const out = join(dir, `${name}.onnx`);
    const started = performance.now();
    const options: DistillOptions = {
      teachers: [teacher],
      data: resolve(sampleDataPath(resources)),
      epochs: DEMO_EPOCHS,
      augment: 'shift-flip',
      augmentViews: 8,
      cacheDir: join(dir, 'cache'),
      ...overrides,
      out,
    };
    const r = await distill(options, () => undefined);
    const seconds = (performance.now() - started) / 1000;
    const s = await accuracy(out, data);
    let agree = 0;
    s.predictions.forEach((p, i) => (agree += p === t.predictions[i] ? 1 : 0));
    console.log(
      `${name}: student ${r.student.template ?? ''} ${r.student.parameters} parameters, held-out ${(100 * s.acc).toFixed(2)} % (teacher − student ${(100 * (t.acc - s.acc)).toFixed(2)} points), ` +
        `agreement ${((100 * agree) / data.n).toFixed(2)} %, sample test ${(100 * (r.metrics.testAccuracy ?? NaN)).toFixed(2)} %, ${seconds.toFixed(0)} s`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
