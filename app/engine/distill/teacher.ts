// Teacher inference with an on-disk cache of its logits, keyed by teacher hash + dataset
// fingerprint + split, so a second experiment on the same data never runs the teacher again.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { batches } from '../data/batches.js';
import { checkAgainstModelInput } from '../data/model-input.js';
import type { Split } from '../data/split.js';
import type { Model } from '../onnx/ir.js';
import { writeFileAtomic } from '../onnx/io.js';
import { encodeModel } from '../onnx/codec.js';
import { createSession, type DeviceRequest } from '../runtime/index.js';

export interface TeacherInfo {
  path: string;
  bytes: Uint8Array;
  sha256: string;
  model: Model;
  inputName: string;
  inputShape: (number | string | null)[];
  classes: number;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Describes a loaded classifier model: its data input, input shape and class count. */
export function classifierInfo(path: string, bytes: Uint8Array, model: Model): TeacherInfo {
  const g = model.graph;
  const inits = new Set(g.initializers.map((t) => t.name));
  const inputs = g.inputs.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1) throw new Error(`${path}: a classifier needs exactly one data input; this model has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
  const input = inputs[0]!;
  const out = g.outputs[0];
  if (!out) throw new Error(`${path}: the model has no outputs`);
  const inShape = input.type?.kind === 'tensor' ? (input.type.shape ?? []) : [];
  const outShape = out.type?.kind === 'tensor' ? (out.type.shape ?? []) : [];
  const classes = outShape[outShape.length - 1];
  if (outShape.length !== 2 || typeof classes !== 'number' || classes < 2) {
    throw new Error(`${path}: the first output '${out.name}' has shape [${outShape}]; a classifier's output must be [batch, classes]`);
  }
  return { path, bytes, sha256: sha256(bytes), model, inputName: input.name, inputShape: inShape, classes };
}

export interface TeacherRunOptions {
  cacheDir?: string;
  /** Identifies the split's contents (dataset fingerprint + split name + preprocessing). */
  splitKey: string;
  device?: DeviceRequest;
  threads?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * A teacher with NaN/Inf weights gives NaN soft targets, and training would then stop on a NaN
 * loss whose message points at the learning rate. Name the real cause instead (never cache it).
 */
function assertFiniteLogits(teacher: TeacherInfo, logits: Float32Array, count: number): void {
  const samples = new Set<number>();
  for (let i = 0; i < logits.length; i++) if (!Number.isFinite(logits[i]!)) samples.add(Math.floor(i / teacher.classes));
  if (samples.size === 0) return;
  throw new Error(
    `${teacher.path}: the teacher's outputs are not finite (NaN or Infinity) for ${samples.size} of ${count} samples; ` +
      'its weights may hold NaN or Infinity. Check or re-export the model, or choose another teacher.',
  );
}

/** Logits [count × classes] of the teacher on every sample of the split. */
export async function teacherLogits(teacher: TeacherInfo, split: Split, o: TeacherRunOptions): Promise<{ logits: Float32Array; cached: boolean }> {
  const key = createHash('sha256').update(`${teacher.sha256}\n${o.splitKey}\n${split.count}`).digest('hex').slice(0, 32);
  const file = o.cacheDir ? join(o.cacheDir, `${key}.f32`) : undefined;
  const expectedBytes = split.count * teacher.classes * 4;
  if (file) {
    const cached = await readFile(file).catch(() => undefined);
    if (cached && cached.byteLength === expectedBytes) {
      const logits = new Float32Array(split.count * teacher.classes);
      new Uint8Array(logits.buffer).set(cached);
      assertFiniteLogits(teacher, logits, split.count);
      return { logits, cached: true };
    }
  }
  const fit = checkAgainstModelInput(split, teacher.inputShape, { inputName: teacher.inputName });
  const { session } = await createSession(teacher.bytes, { device: o.device ?? 'cpu', threads: o.threads });
  try {
    const logits = new Float32Array(split.count * teacher.classes);
    const batchSize = fit.fixedBatchSize ?? o.batchSize ?? 256;
    let done = 0;
    for (const batch of batches(split, batchSize)) {
      let x = batch.x;
      let n = batch.size;
      if (fit.fixedBatchSize && n < fit.fixedBatchSize) {
        // A model with a fixed batch size gets a zero-padded last batch.
        x = new Float32Array(fit.fixedBatchSize * (batch.x.length / n));
        x.set(batch.x);
        n = fit.fixedBatchSize;
      }
      const out = await session.run({ [teacher.inputName]: new ort.Tensor('float32', x, [n, ...fit.modelSampleShape]) });
      const y = out[session.outputNames[0]!]!.data as Float32Array;
      logits.set(y.subarray(0, batch.size * teacher.classes), batch.indices[0]! * teacher.classes);
      done += batch.size;
      o.onProgress?.(done, split.count);
    }
    assertFiniteLogits(teacher, logits, split.count);
    if (file) {
      await mkdir(o.cacheDir!, { recursive: true });
      await writeFileAtomic(file, new Uint8Array(logits.buffer));
    }
    return { logits, cached: false };
  } finally {
    await session.release();
  }
}

/**
 * The teacher's intermediate tensor `tensor` for every sample of the split, flattened per
 * sample ([count × size]), for feature matching. Cached like the logits.
 */
export async function teacherFeatures(
  teacher: TeacherInfo,
  split: Split,
  tensor: string,
  o: TeacherRunOptions,
): Promise<{ values: Float32Array; size: number }> {
  if (!teacher.model.graph.nodes.some((n) => n.outputs.includes(tensor))) {
    throw new Error(`${teacher.path}: the teacher has no tensor '${tensor}' (see 'distillery inspect --json' for value names)`);
  }
  const key = createHash('sha256').update(`${teacher.sha256}\n${o.splitKey}\n${split.count}\nfeatures:${tensor}`).digest('hex').slice(0, 32);
  const file = o.cacheDir ? join(o.cacheDir, `${key}.features.f32`) : undefined;
  const fit = checkAgainstModelInput(split, teacher.inputShape, { inputName: teacher.inputName });
  // Expose the tensor as an extra output of a copy of the teacher.
  const g = teacher.model.graph;
  const withOutput = { ...teacher.model, graph: { ...g, outputs: [...g.outputs, { name: tensor, type: null }] } };
  const { session } = await createSession(encodeModel(withOutput), { device: o.device ?? 'cpu', threads: o.threads });
  try {
    let values: Float32Array | null = null;
    let size = 0;
    const batchSize = fit.fixedBatchSize ?? o.batchSize ?? 256;
    for (const batch of batches(split, batchSize)) {
      const out = await session.run({ [teacher.inputName]: new ort.Tensor('float32', batch.x, [batch.size, ...fit.modelSampleShape]) });
      const f = out[tensor]!;
      if (!values) {
        size = f.size / batch.size;
        if (file) {
          const cached = await readFile(file).catch(() => undefined);
          if (cached && cached.byteLength === split.count * size * 4) {
            const v = new Float32Array(split.count * size);
            new Uint8Array(v.buffer).set(cached);
            return { values: v, size };
          }
        }
        values = new Float32Array(split.count * size);
      }
      values.set(f.data as Float32Array, batch.indices[0]! * size);
    }
    if (!values!.every(Number.isFinite)) throw new Error(`${teacher.path}: the teacher's tensor '${tensor}' holds NaN or Infinity`);
    if (file) {
      await mkdir(o.cacheDir!, { recursive: true });
      await writeFileAtomic(file, new Uint8Array(values!.buffer));
    }
    return { values: values!, size };
  } finally {
    await session.release();
  }
}
