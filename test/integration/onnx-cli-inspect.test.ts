// `distillery inspect` as a user runs it: spawned through bin/distillery.mjs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatSummary, type InspectJson } from '../../app/cli/commands/inspect.js';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { inspectFile } from '../../app/engine/onnx/inspect.js';
import { DataType, emptyModel } from '../../app/engine/onnx/ir.js';
import { saveModel } from '../../app/engine/onnx/io.js';
import { floatTensor } from '../../app/engine/onnx/tensor.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'distillery.mjs');
const dir = mkdtempSync(join(tmpdir(), 'distillery-cli-inspect-'));

async function makeModel(): Promise<string> {
  const m = emptyModel(17);
  m.opsetImports.push({ domain: 'com.example', version: 1 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('pixels', DataType.FLOAT, ['batch', 784]);
  const w = b.initializer(floatTensor('w', [784, 1000], new Float32Array(784_000)));
  const h = b.op('MatMul', [x, w]);
  const y = b.op('Magic', [h], {}, { domain: 'com.example', name: 'magic_1' });
  b.output(y, DataType.FLOAT, ['batch', 1000]);
  const file = join(dir, 'model.onnx');
  await saveModel(m, file, { externalThreshold: 1024 });
  return file;
}

const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('distillery inspect', () => {
  it('--json prints one document with the contract fields and names unsupported ops', async () => {
    const file = await makeModel();
    const r = run(['inspect', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as InspectJson;
    expect(doc).toMatchObject({
      irVersion: 8,
      opsetImports: { 'ai.onnx': 17, 'com.example': 1 },
      inputs: [{ name: 'pixels', type: 'float32', shape: ['batch', 784] }],
      parameters: 784_000,
      ops: { MatMul: 1, 'com.example.Magic': 1 },
      flops: 2 * 784 * 1000,
      externalData: true,
      unsupportedOps: [{ opType: 'Magic', domain: 'com.example', node: 'magic_1' }],
    });
    expect(doc.outputs).toHaveLength(1);
    // size on disk counts the external data file too
    expect(doc.sizeBytes).toBeGreaterThan(784_000 * 4);
  });

  it('a bad file exits non-zero with one line on stderr naming the file', () => {
    const bad = join(dir, 'broken.onnx');
    const good = readFileSync('/usr/share/libonnx-testdata/data/pytorch-operator/test_operator_conv/model.onnx');
    writeFileSync(bad, good.subarray(0, 1000));
    const r = run(['inspect', bad, '--no-run-check']);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^distillery: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*truncated`));
  });

  it('the readable summary aligns tables, separates thousands and explains unsupported ops', async () => {
    const file = await makeModel();
    const { summary } = await inspectFile(file);
    const text = formatSummary({ ...summary, issues: [] });
    expect(text).toMatch(/Parameters {2}784,000\n/);
    expect(text).toMatch(/Size {8}3\.\d\d MB \([\d,]+ bytes, with external data\)/);
    expect(text).toMatch(/Compute {5}1\.57 MFLOPs per sample/);
    expect(text).toContain('  name    type     shape\n  pixels  float32  [batch, 784]\n');
    expect(text).toMatch(/ONNX Runtime cannot run this model on CPU:\n {2}- com\.example\.Magic \(node 'magic_1'\): ONNX Runtime does not know com\.example\.Magic/);
  });
});
