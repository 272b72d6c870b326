import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyGraph, emptyModel, type Model } from '../../app/engine/onnx/ir.js';
import { ModelFileError } from '../../app/engine/onnx/io.js';
import { assertValid, validateModel } from '../../app/engine/onnx/validate.js';

function mlp(): Model {
  const m = emptyModel(17);
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', DataType.FLOAT, ['batch', 4]);
  const w = b.constFloat('w', new Float32Array(12), [4, 3]);
  const h = b.op('MatMul', [x, w], {}, { name: 'mm' });
  b.output(b.op('Relu', [h], {}, { name: 'relu', output: 'y' }), DataType.FLOAT, ['batch', 3]);
  return m;
}

const errors = (m: Model) => validateModel(m).filter((i) => i.severity === 'error');

describe('validateModel', () => {
  it('a well-formed model has no issues', () => {
    expect(validateModel(mlp())).toEqual([]);
    expect(assertValid(mlp(), 'ok.onnx')).toEqual([]);
  });

  it('finds a cycle and names a node on it', () => {
    const m = mlp();
    // mm reads y (Relu's output), Relu reads mm's output: a cycle.
    m.graph.nodes[0]!.inputs[0] = 'y';
    const e = errors(m);
    expect(e.map((i) => i.code)).toContain('cycle');
    expect(e.find((i) => i.code === 'cycle')!.message).toMatch(/cycle through node '(mm|relu)'/);
  });

  it('finds a node reading its own output', () => {
    const m = mlp();
    m.graph.nodes[1]!.inputs[0] = 'y';
    expect(errors(m).find((i) => i.code === 'cycle')!.message).toMatch(/node 'relu' reads its own output 'y'/);
  });

  it('finds dangling reads and names node and value', () => {
    const m = mlp();
    m.graph.nodes[0]!.inputs[1] = 'w_typo';
    const e = errors(m).find((i) => i.code === 'dangling-value')!;
    expect(e.value).toBe('w_typo');
    expect(e.node).toBe('mm');
    expect(e.message).toBe("graph 'main': MatMul node 'mm' reads 'w_typo', which no node, input or initializer defines");
  });

  it('finds graph outputs that nothing produces', () => {
    const m = mlp();
    m.graph.outputs.push({ name: 'ghost', type: null });
    expect(errors(m).map((i) => i.message)).toContain("graph 'main': output 'ghost' is not produced by any node, input or initializer");
  });

  it('lets subgraphs read outer values but catches their dangling reads', () => {
    const m = mlp();
    const b = new GraphBuilder(m.graph);
    const cond = b.input('cond', DataType.BOOL, []);
    const then = emptyGraph('then');
    then.nodes.push({ name: 'inner', opType: 'Identity', domain: '', inputs: ['y'], outputs: ['t_out'], attributes: [] });
    then.outputs.push({ name: 't_out', type: null });
    const other = emptyGraph('else');
    other.nodes.push({ name: 'inner2', opType: 'Identity', domain: '', inputs: ['nowhere'], outputs: ['e_out'], attributes: [] });
    other.outputs.push({ name: 'e_out', type: null });
    m.graph.nodes.push({
      name: 'branch', opType: 'If', domain: '', inputs: [cond], outputs: ['z'],
      attributes: [{ name: 'then_branch', type: 'graph', value: then }, { name: 'else_branch', type: 'graph', value: other }],
    });
    const e = errors(m);
    expect(e).toHaveLength(1);
    expect(e[0]!.code).toBe('dangling-value');
    expect(e[0]!.graph).toBe("main/If 'branch'.else_branch");
    expect(e[0]!.message).toMatch(/Identity node 'inner2' reads 'nowhere'/);
  });

  it('finds duplicate output names', () => {
    const m = mlp();
    m.graph.nodes[1]!.outputs[0] = m.graph.nodes[0]!.outputs[0]!;
    m.graph.outputs[0]!.name = m.graph.nodes[0]!.outputs[0]!;
    const e = errors(m).filter((i) => i.code === 'duplicate-output');
    expect(e).toHaveLength(1);
    expect(e[0]!.message).toMatch(/Relu node 'relu' writes '.*', which is already defined by MatMul node 'mm'/);
    const m2 = mlp();
    m2.graph.nodes[0]!.outputs[0] = 'x';
    expect(errors(m2).find((i) => i.code === 'duplicate-output')!.message).toMatch(/writes 'x', which is already defined by a graph input/);
  });

  it('finds nodes without op_type', () => {
    const m = mlp();
    m.graph.nodes[1]!.opType = '';
    expect(errors(m).map((i) => i.code)).toContain('missing-op-type');
  });

  it('requires an opset import for every domain in use', () => {
    const m = mlp();
    m.graph.nodes[1]!.domain = 'com.microsoft';
    const e = errors(m).find((i) => i.code === 'missing-opset')!;
    expect(e.message).toBe("Relu node 'relu' uses domain com.microsoft, but the model has no opset import for it");
    m.opsetImports.push({ domain: 'com.microsoft', version: 1 });
    expect(errors(m)).toEqual([]);
    const m2 = mlp();
    m2.opsetImports = [{ domain: 'ai.onnx', version: 17 }]; // 'ai.onnx' is the default domain
    expect(errors(m2)).toEqual([]);
    m2.opsetImports = [];
    expect(errors(m2)[0]!.message).toMatch(/uses domain ai\.onnx \(default\)/);
  });

  it('checks IR version and opset ranges (warnings outside the tested range, error below IR 3)', () => {
    const m = mlp();
    m.irVersion = 11;
    m.opsetImports[0]!.version = 23;
    const issues = validateModel(m);
    expect(issues.map((i) => [i.severity, i.code])).toEqual([['warning', 'ir-version'], ['warning', 'opset-version']]);
    m.opsetImports[0]!.version = 6;
    expect(validateModel(m).find((i) => i.code === 'opset-version')!.message).toMatch(/opset 6 is outside the tested range 7\.\.21/);
    m.irVersion = 2;
    expect(errors(m).map((i) => i.code)).toEqual(['ir-version']);
  });

  it('assertValid throws a ModelFileError naming the file and the first problem', () => {
    const m = mlp();
    m.graph.nodes[0]!.inputs[1] = 'a';
    m.graph.nodes[1]!.inputs[0] = 'b';
    expect(() => assertValid(m, '/models/bad.onnx')).toThrow(ModelFileError);
    expect(() => assertValid(m, '/models/bad.onnx')).toThrow(/^\/models\/bad\.onnx: invalid model: graph 'main': MatMul node 'mm' reads 'a', .* \(and 1 more problem\)$/);
  });
});
