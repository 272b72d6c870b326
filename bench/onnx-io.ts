// ONNX I/O benchmark: parse and serialize speed and peak memory of our codec against protobufjs's
// reflection codec (an onnx.proto subset parsed at run time — "the protobuf library used directly").
//
//   npx tsx bench/onnx-io.ts [--mb 500] [--repeat 3]
//
// A model of ~MB megabytes (50 float initializers in a chain of Adds) is written to a temp folder;
// each (codec, operation) runs in its own child process so peak RSS is measured cleanly.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { decodeModel, encodeModel } from '../app/engine/onnx/codec.js';
import { GraphBuilder } from '../app/engine/onnx/graph.js';
import { DataType, emptyModel } from '../app/engine/onnx/ir.js';
import { loadModel, saveModel } from '../app/engine/onnx/io.js';

const ONNX_SUBSET = `
syntax = "proto2";
package onnx;
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } optional string denotation = 3; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  message Sequence { optional TypeProto elem_type = 1; }
  oneof value { Tensor tensor_type = 1; Sequence sequence_type = 4; }
  optional string denotation = 6;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; optional string doc_string = 3; }
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  optional string doc_string = 12;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
}
message AttributeProto {
  optional string name = 1; optional string ref_attr_name = 21; optional string doc_string = 13; optional int32 type = 20;
  optional float f = 2; optional int64 i = 3; optional bytes s = 4; optional TensorProto t = 5; optional GraphProto g = 6;
  repeated float floats = 7; repeated int64 ints = 8; repeated bytes strings = 9; repeated TensorProto tensors = 10; repeated GraphProto graphs = 11;
}
message NodeProto {
  repeated string input = 1; repeated string output = 2; optional string name = 3; optional string op_type = 4;
  optional string domain = 7; repeated AttributeProto attribute = 5; optional string doc_string = 6;
}
message GraphProto {
  repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5; optional string doc_string = 10;
  repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; repeated ValueInfoProto value_info = 13;
}
message ModelProto {
  optional int64 ir_version = 1; repeated OperatorSetIdProto opset_import = 8; optional string producer_name = 2;
  optional string producer_version = 3; optional string domain = 4; optional int64 model_version = 5;
  optional string doc_string = 6; optional GraphProto graph = 7; repeated StringStringEntryProto metadata_props = 14;
}
`;

type Op = 'ours-parse' | 'ours-serialize' | 'pbjs-parse' | 'pbjs-serialize' | 'ours-load-file' | 'ours-save-file' | 'ours-save-external' | 'ours-load-external';
const OPS: Op[] = ['ours-parse', 'pbjs-parse', 'ours-serialize', 'pbjs-serialize', 'ours-load-file', 'ours-save-file', 'ours-load-external', 'ours-save-external'];

interface ChildResult {
  op: Op;
  seconds: number[];
  maxRssMB: number;
  baseRssMB: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function child(op: Op, file: string, repeat: number): Promise<ChildResult> {
  const idleRssMB = process.memoryUsage().rss / 2 ** 20;
  const bytes = readFileSync(file);
  const seconds: number[] = [];
  const time = async (fn: () => unknown) => {
    const t0 = performance.now();
    await fn();
    seconds.push((performance.now() - t0) / 1000);
  };
  const baseRssMB = idleRssMB;
  if (op === 'ours-parse') for (let i = 0; i < repeat; i++) await time(() => decodeModel(bytes));
  if (op === 'ours-serialize') {
    const m = decodeModel(bytes);
    for (let i = 0; i < repeat; i++) await time(() => encodeModel(m));
  }
  const ModelProto = protobuf.parse(ONNX_SUBSET, { keepCase: true }).root.lookupType('onnx.ModelProto');
  if (op === 'pbjs-parse') for (let i = 0; i < repeat; i++) await time(() => ModelProto.decode(bytes));
  if (op === 'pbjs-serialize') {
    const m = ModelProto.decode(bytes);
    for (let i = 0; i < repeat; i++) await time(() => ModelProto.encode(m).finish());
  }
  if (op === 'ours-load-file') for (let i = 0; i < repeat; i++) await time(() => loadModel(file));
  if (op === 'ours-save-file') {
    const m = decodeModel(bytes);
    const dir = mkdtempSync(join(tmpdir(), 'distillery-bench-save-'));
    for (let i = 0; i < repeat; i++) await time(() => saveModel(m, join(dir, 'model.onnx')));
    rmSync(dir, { recursive: true, force: true });
  }
  if (op === 'ours-save-external') {
    const m = decodeModel(bytes);
    const dir = mkdtempSync(join(tmpdir(), 'distillery-bench-save-'));
    for (let i = 0; i < repeat; i++) await time(() => saveModel(m, join(dir, 'model.onnx'), { externalThreshold: 1024 }));
    rmSync(dir, { recursive: true, force: true });
  }
  if (op === 'ours-load-external') {
    const dir = mkdtempSync(join(tmpdir(), 'distillery-bench-load-'));
    await saveModel(decodeModel(bytes), join(dir, 'model.onnx'), { externalThreshold: 1024 });
    for (let i = 0; i < repeat; i++) await time(() => loadModel(join(dir, 'model.onnx')));
    rmSync(dir, { recursive: true, force: true });
  }
  // VmHWM, not resourceUsage().maxRSS: Linux carries maxRSS over from the forking parent.
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return { op, seconds, baseRssMB, maxRssMB: hwm ? Number(hwm[1]) / 1024 : process.resourceUsage().maxRSS / 1024 };
}

async function main(): Promise<void> {
  const childOp = process.argv.indexOf('--child');
  if (childOp >= 0) {
    const result = await child(process.argv[childOp + 1] as Op, process.argv[childOp + 2]!, arg('repeat', 3));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const mb = arg('mb', 500);
  const repeat = arg('repeat', 3);
  const count = 50;
  const elems = Math.max(1, Math.floor((mb * 2 ** 20) / count / 4));
  const dir = mkdtempSync(join(tmpdir(), 'distillery-bench-onnx-'));
  const file = join(dir, 'model.onnx');
  try {
    {
      const m = emptyModel(17);
      const b = new GraphBuilder(m.graph);
      let x = b.input('x', DataType.FLOAT, [elems]);
      for (let i = 0; i < count; i++) {
        const data = new Float32Array(elems);
        for (let j = 0; j < elems; j += 1024) data[j] = i + j; // touch pages; content is irrelevant
        const w = b.initializer({ name: `w${i}`, dataType: DataType.FLOAT, dims: [elems], data: { kind: 'raw', bytes: new Uint8Array(data.buffer) } });
        x = b.op('Add', [x, w]);
      }
      b.output(x, DataType.FLOAT, [elems]);
      await saveModel(m, file);
    }
    const size = statSync(file).size;
    const sizeMB = size / 2 ** 20;
    process.stderr.write(`model: ${count} initializers × ${(elems * 4 / 2 ** 20).toFixed(1)} MiB = ${sizeMB.toFixed(1)} MiB (${file})\n`);
    const script = fileURLToPath(import.meta.url);
    const rows: string[][] = [];
    for (const op of OPS) {
      process.stderr.write(`running ${op}…\n`);
      const r = spawnSync(process.execPath, [...process.execArgv, script, '--child', op, file, '--repeat', String(repeat)], {
        encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=8192` },
      });
      if (r.status !== 0) throw new Error(`${op} failed: ${r.stderr}`);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
      const best = Math.min(...res.seconds);
      const median = [...res.seconds].sort((a, b) => a - b)[Math.floor(res.seconds.length / 2)]!;
      rows.push([
        op, `${(best * 1000).toFixed(1)}`, `${(median * 1000).toFixed(1)}`, `${(sizeMB / best).toFixed(0)}`,
        `${res.maxRssMB.toFixed(0)}`, `${(res.maxRssMB - res.baseRssMB).toFixed(0)}`,
      ]);
    }
    const header = ['operation', 'best ms', 'median ms', 'MiB/s (best)', 'peak RSS MiB', 'peak − idle MiB'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
    console.log('parse/serialize: bytes in memory ⇄ model object; load/save: whole files through io.ts (fsync included); external: weights in <name>.data.');
    console.log('peak RSS: VmHWM of a fresh child process that also holds the file\'s bytes (read before timing); idle: RSS before reading it.');
    console.log(`ONNX I/O, ${sizeMB.toFixed(0)} MiB model (${count} × ${(elems * 4 / 2 ** 20).toFixed(1)} MiB float initializers), ${repeat} runs, Node ${process.version}`);
    console.log(line(header));
    console.log(`|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
    for (const r of rows) console.log(line(r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
