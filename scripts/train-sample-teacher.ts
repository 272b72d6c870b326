// Trains the bundled sample teacher: a CNN on the full Fashion-MNIST training set (Debian's
// dataset-fashion-mnist), with Distillery's own trainer (plain supervised: alpha = 0).
// Reproducible: fixed seed, fixed data order. Usage: npx tsx scripts/train-sample-teacher.ts
import { writeFile } from 'node:fs/promises';
import { distill } from '../app/engine/distill/distill.js';

const out = process.argv[2] ?? 'resources/sample-teacher/fashion-cnn.onnx';
const template = process.env.TEACHER_TEMPLATE ?? 'cnn:32,64/256';
const epochs = Number(process.env.TEACHER_EPOCHS ?? 10);
const result = await distill(
  { teachers: [], data: '/usr/share/datasets/fashion-mnist', student: template, alpha: 0, epochs, batchSize: 64, lr: 2e-3, seed: 1, out },
  (e) => {
    if (e.kind === 'epoch') console.error(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)} val accuracy ${((e.accuracy ?? 0) * 100).toFixed(2)}% (${e.seconds.toFixed(0)} s)`);
    else if (e.kind !== 'step') console.error(e.message);
  },
);
const record = { template, epochs, seed: 1, data: 'fashion-mnist (Debian dataset-fashion-mnist), 54k train / 6k validation / 10k test', testAccuracy: result.metrics.testAccuracy, parameters: result.student.parameters, sizeBytes: result.student.sizeBytes, epochsDetail: result.metrics.epochs };
await writeFile(out.replace(/\.onnx$/, '.json'), `${JSON.stringify(record, null, 2)}\n`);
console.log(JSON.stringify(record, null, 2));
