// Training checkpoints: weights, optimizer state, step, history and the best weights so far,
// in one file written atomically (a crash mid-write leaves the previous checkpoint intact).
// Layout: 8-byte magic, u32 header length, JSON header, then float32 blobs in header order.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../onnx/io.js';

const MAGIC = 'DSTLCKP1';

export interface Checkpoint {
  step: number;
  epoch: number;
  weights: Map<string, Float32Array>;
  state: Map<string, Float32Array>;
  history: unknown[];
  best?: { score: number; epoch: number; weights: Map<string, Float32Array> };
}

interface Header {
  step: number;
  epoch: number;
  history: unknown[];
  best?: { score: number; epoch: number };
  blobs: { group: 'weights' | 'state' | 'best'; name: string; length: number }[];
}

export async function saveCheckpoint(path: string, ck: Checkpoint): Promise<void> {
  const blobs: Header['blobs'] = [];
  const arrays: Float32Array[] = [];
  const add = (group: Header['blobs'][number]['group'], map: Map<string, Float32Array>) => {
    for (const [name, a] of map) {
      blobs.push({ group, name, length: a.length });
      arrays.push(a);
    }
  };
  add('weights', ck.weights);
  add('state', ck.state);
  if (ck.best) add('best', ck.best.weights);
  const header: Header = { step: ck.step, epoch: ck.epoch, history: ck.history, best: ck.best && { score: ck.best.score, epoch: ck.best.epoch }, blobs };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (4 - ((12 + json.length) % 4)) % 4;
  const total = 12 + json.length + pad + arrays.reduce((s, a) => s + a.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length + pad, true);
  out.set(json, 12);
  out.fill(0x20, 12 + json.length, 12 + json.length + pad);
  let offset = 12 + json.length + pad;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    offset += a.byteLength;
  }
  await writeFileAtomic(path, out);
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const bytes = await readFile(path);
  if (bytes.length < 12 || bytes.subarray(0, 8).toString('latin1') !== MAGIC) {
    throw new Error(`${path}: not a Distillery checkpoint`);
  }
  const headerLength = bytes.readUInt32LE(8);
  if (12 + headerLength > bytes.length) throw new Error(`${path}: checkpoint is truncated`);
  const header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString('utf8')) as Header;
  let offset = 12 + headerLength;
  const groups = { weights: new Map<string, Float32Array>(), state: new Map<string, Float32Array>(), best: new Map<string, Float32Array>() };
  for (const b of header.blobs) {
    const end = offset + b.length * 4;
    if (end > bytes.length) throw new Error(`${path}: checkpoint is truncated (blob '${b.name}')`);
    const copy = new Float32Array(b.length);
    new Uint8Array(copy.buffer).set(bytes.subarray(offset, end));
    groups[b.group].set(b.name, copy);
    offset = end;
  }
  return {
    step: header.step,
    epoch: header.epoch,
    weights: groups.weights,
    state: groups.state,
    history: header.history,
    best: header.best && { ...header.best, weights: groups.best },
  };
}
