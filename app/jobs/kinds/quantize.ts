// Post-training quantization as a job: dynamic int8, static int8 (QDQ, calibrated on data),
// weight-only int4 or fp16; the quantized model goes to <dataDir>/models/<id>/quantized.onnx.
import { join } from 'node:path';
import type { QuantizeConfig } from '../../contract/api.js';
import { fileName, type JobKindModule } from './types.js';

export const quantizeJob: JobKindModule<QuantizeConfig> = {
  kind: 'quantize',
  prepare(config, ctx) {
    const { name, tags: _tags, parentId: _parent, device, threads, ...rest } = config;
    const params = { ...rest, device: device ?? ctx.device, threads: threads ?? ctx.threads, out: join(ctx.outDir, 'quantized.onnx') };
    return { name: name ?? `quantize ${fileName(config.model)} (${config.method})`, experimentKind: 'quantize', config: params, params, resumable: false };
  },
  async run(p, ctx) {
    const params = p as unknown as QuantizeConfig & { out: string; threads: number | null };
    const { stat } = await import('node:fs/promises');
    const { loadModel, saveModel } = await import('../../engine/onnx/io.js');
    const q = await import('../../engine/quantize/index.js');
    ctx.progress({ stage: 'load', step: 0, totalSteps: 3 });
    const model = await loadModel(params.model);
    const inputName = model.graph.inputs.find((i) => !model.graph.initializers.some((t) => t.name === i.name))?.name;
    if (ctx.signal.aborted) throw new Error('cancelled');
    ctx.progress({ stage: 'quantize', step: 1, totalSteps: 3 });
    let result: { model: typeof model; layers: { name: string; op: string; precision: string; note?: string }[] };
    if (params.method === 'dynamic') {
      result = q.quantizeDynamic(model, { perChannel: params.perChannel ?? false });
    } else if (params.method === 'int4') {
      result = q.quantizeInt4(model, { blockSize: 32, symmetric: true });
    } else if (params.method === 'fp16') {
      result = q.convertFp16(model);
    } else {
      if (!params.calib) throw new Error('static quantization needs calibration data (calib)');
      if (!inputName) throw new Error('the model has no data input to calibrate');
      const { loadDataset, batches } = await import('../../engine/data/index.js');
      const data = await loadDataset(params.calib, { limit: params.limit ?? 512 });
      ctx.log(`calibrating on ${data.train.count} samples from ${params.calib}`, 'info', 'calibrate');
      const source = function* () {
        for (const b of batches(data.train, 32)) yield { [inputName]: { data: b.x, dims: [b.size, ...data.sampleShape] } };
      };
      result = await q.quantizeStatic(model, source, { method: params.calibrationMethod ?? 'minmax', perChannel: params.perChannel ?? true, threads: params.threads ?? undefined });
    }
    if (ctx.signal.aborted) throw new Error('cancelled');
    ctx.progress({ stage: 'save', step: 2, totalSteps: 3 });
    await saveModel(result.model, params.out);
    const before = (await stat(params.model)).size;
    const after = (await stat(params.out)).size;
    ctx.progress({ stage: 'done', step: 3, totalSteps: 3 });
    return {
      summary: {
        method: params.method,
        output: params.out,
        sizeBytes: { before, after },
        compression: before > 0 ? after / before : null,
        layers: result.layers.map((l) => ({ name: l.name, op: l.op, precision: l.precision })),
      },
      artifacts: [{ path: params.out, role: 'quantized.onnx', mediaType: 'application/x-onnx' }],
    };
  },
};
