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
    const { loadModel } = await import('../../engine/onnx/io.js');
    const { checkQuantizable, runQuantize } = await import('../../engine/quantize/run.js');
    if ((params.method === 'static' || params.method === 'mixed') && !params.calib) {
      throw new Error(`${params.method === 'static' ? 'static quantization' : 'mixed precision'} needs calibration data: choose a dataset`);
    }
    if (params.method === 'auto' && !params.calib && !params.eval) throw new Error('auto needs data to measure accuracy on: choose calibration or evaluation data');
    ctx.progress({ stage: 'load', step: 0, totalSteps: 0 });
    const model = await loadModel(params.model);
    checkQuantizable(model, params.model, params.method);
    let step = 0;
    const report = await runQuantize(
      model,
      params.model,
      {
        method: params.method,
        out: params.out,
        calib: params.calib,
        eval: params.eval,
        maxAccuracyDrop: params.maxAccuracyDrop,
        objective: params.objective,
        perChannel: params.perChannel,
        calibration: params.calibrationMethod,
        blockSize: params.blockSize,
        symmetric: params.symmetric,
        keepConvFloat: params.keepConvFloat,
        limit: params.limit,
        threads: params.threads ?? 1,
      },
      (message) => {
        if (ctx.signal.aborted) throw new Error('cancelled');
        ctx.log(message, 'info', 'quantize');
        ctx.progress({ stage: 'quantize', step: ++step, totalSteps: 0 });
      },
    );
    return {
      summary: { ...report, compression: report.sizeBytes.before > 0 ? report.sizeBytes.after / report.sizeBytes.before : null },
      artifacts: [{ path: params.out, role: 'quantized.onnx', mediaType: 'application/x-onnx' }],
    };
  },
};
