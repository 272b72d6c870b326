import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../app/engine/onnx/graph.js';
import { DataType, emptyModel, type Model } from '../../app/engine/onnx/ir.js';
import { convertFp16, quantizeDynamic, quantizeInt4, quantizeStatic, QuantizeError, type CalibrationBatch } from '../../app/engine/quantize/index.js';
import { buildCnn, buildMlp, fashion, imageBatches } from './quant-fixtures.js';

function reluOnly(): Model {
  const m = emptyModel(17);
  const b = new GraphBuilder(m.graph);
  b.input('x', DataType.FLOAT, ['N', 4]);
  b.op('Relu', ['x'], {}, { output: 'y' });
  b.output('y', DataType.FLOAT, ['N', 4]);
  return m;
}

/** MatMul of two activations: nothing with constant weights. */
function activationMatMul(): Model {
  const m = emptyModel(17);
  const b = new GraphBuilder(m.graph);
  b.input('a', DataType.FLOAT, [2, 3]);
  b.input('b', DataType.FLOAT, [3, 2]);
  b.op('MatMul', ['a', 'b'], {}, { output: 'y' });
  b.output('y', DataType.FLOAT, [2, 2]);
  return m;
}

const calib = (): Iterable<CalibrationBatch> => imageBatches(fashion(20, 'train'), 10, [1, 28, 28]);

describe('quantization errors', () => {
  it('no quantizable ops', async () => {
    for (const m of [reluOnly(), activationMatMul()]) {
      expect(() => quantizeDynamic(m)).toThrow(/no MatMul\/Gemm\/Conv with constant weights found/);
      expect(() => quantizeInt4(m, { blockSize: 32, symmetric: true })).toThrow(/no MatMul\/Gemm\/Conv with constant weights found/);
      await expect(quantizeStatic(m, [])).rejects.toThrow(/no MatMul\/Gemm\/Conv with constant weights found/);
    }
    // A CNN without Gemm has weights but nothing dynamic quantization handles.
    const convOnly = buildCnn();
    convOnly.graph.nodes = convOnly.graph.nodes.slice(0, 3);
    convOnly.graph.outputs = [{ name: convOnly.graph.nodes[2]!.outputs[0]!, type: { kind: 'tensor', elemType: DataType.FLOAT, shape: null } }];
    expect(() => quantizeDynamic(convOnly)).toThrow(/Conv needs static quantization/);
    expect(() => quantizeInt4(convOnly, { blockSize: 32, symmetric: true, keepConvFloat: true })).toThrow(/no MatMul\/Gemm with constant 2-D weights \(Conv kept float by request\)/);
  });

  it('already quantized models', async () => {
    const dyn = quantizeDynamic(buildMlp()).model;
    const int4 = quantizeInt4(buildMlp(), { blockSize: 32, symmetric: true }).model;
    const st = (await quantizeStatic(buildCnn(), calib)).model;
    for (const m of [dyn, int4, st]) {
      expect(() => quantizeDynamic(m)).toThrow(QuantizeError);
      expect(() => quantizeDynamic(m)).toThrow(/already quantized/);
      expect(() => quantizeInt4(m, { blockSize: 32, symmetric: false })).toThrow(/already quantized/);
      expect(() => convertFp16(m)).toThrow(/already quantized/);
      await expect(quantizeStatic(m, calib)).rejects.toThrow(/already quantized/);
    }
    expect(() => quantizeDynamic(st)).toThrow(/QuantizeLinear/);
    expect(() => quantizeDynamic(int4)).toThrow(/MatMulNBits/);
  });

  it('opsets too old', async () => {
    expect(() => quantizeDynamic(buildMlp(1, 10))).toThrow(/opset >= 11.*opset 10/);
    // Unsqueeze changed at 13 (axes became an input): no silent upgrade.
    const m = buildCnn(2, 11);
    const b = new GraphBuilder(m.graph);
    b.op('Unsqueeze', ['logits'], { axes: [0] }, { output: 'u' });
    m.graph.outputs.push({ name: 'u', type: { kind: 'tensor', elemType: DataType.FLOAT, shape: null } });
    await expect(quantizeStatic(m, calib)).rejects.toThrow(/opset 11 and uses Unsqueeze.*re-export/);
  });

  it('calibration data that does not fit the input names it', async () => {
    const wrong: CalibrationBatch[] = [{ x: { data: new Float32Array(2 * 784), dims: [2, 784] } }];
    await expect(quantizeStatic(buildCnn(), wrong)).rejects.toThrow("input 'x' has shape [2, 784] but the model expects [N, 1, 28, 28]");
    await expect(quantizeStatic(buildCnn(), [])).rejects.toThrow(/calibration data is empty/);
  });

  it('bad options', async () => {
    expect(() => quantizeInt4(buildMlp(), { blockSize: 48, symmetric: true })).toThrow(/power of two/);
    await expect(quantizeStatic(buildCnn(), calib, { method: 'kl' as never })).rejects.toThrow(/unknown calibration method/);
    await expect(quantizeStatic(buildCnn(), calib, { excludeNodes: ['conv1', 'conv2', 'fc1', 'fc2'] })).rejects.toThrow(/left after the exclusions/);
  });
});
