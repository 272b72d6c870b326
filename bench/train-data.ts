// A fixed Fashion-MNIST batch for the train benchmarks (first B training images; teacher-like
// soft targets from a fixed random generator).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export function fashionMnistBatch(B: number, offset = 0): { x: Float32Array; probs: Float32Array; onehot: Float32Array } {
  const dir = '/usr/share/datasets/fashion-mnist';
  const img = gunzipSync(readFileSync(`${dir}/train-images-idx3-ubyte.gz`));
  const lab = gunzipSync(readFileSync(`${dir}/train-labels-idx1-ubyte.gz`));
  const x = new Float32Array(B * 784);
  for (let i = 0; i < B * 784; i++) x[i] = img[16 + offset * 784 + i]! / 255;
  const onehot = new Float32Array(B * 10);
  const probs = new Float32Array(B * 10);
  let s = 12345;
  for (let i = 0; i < B; i++) {
    onehot[i * 10 + lab[8 + offset + i]!] = 1;
    let sum = 0;
    for (let c = 0; c < 10; c++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      sum += probs[i * 10 + c] = Math.exp((3 * s) / 2147483648);
    }
    for (let c = 0; c < 10; c++) probs[i * 10 + c]! /= sum;
  }
  return { x, probs, onehot };
}
