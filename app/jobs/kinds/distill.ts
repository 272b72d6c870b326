// Knowledge distillation as a job: the engine's distill() in the child, checkpointing to
// <dataDir>/checkpoints/<id>.ckpt and writing the student to <dataDir>/models/<id>/student.onnx.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { DistillConfig } from '../../contract/api.js';
import { fileName, type JobKindModule } from './types.js';

export const distillJob: JobKindModule<DistillConfig> = {
  kind: 'distill',
  prepare(config, ctx) {
    const { name, tags: _tags, device, threads, ...rest } = config;
    const params = {
      ...rest,
      device: device ?? ctx.device,
      ...((threads ?? ctx.threads) ? { threads: threads ?? ctx.threads } : {}),
      out: join(ctx.outDir, 'student.onnx'),
      cacheDir: ctx.cacheDir,
      checkpointPath: ctx.checkpointPath,
    };
    return {
      name: name ?? `distill ${config.student ?? 'auto'} from ${config.teachers.map(fileName).join('+')}`,
      experimentKind: 'distill',
      config: params,
      params,
      resumable: true,
    };
  },
  resumeParams(params, checkpointPath) {
    return { ...params, checkpointPath, resumeFrom: existsSync(checkpointPath) ? checkpointPath : undefined };
  },
  async run(params, ctx) {
    const { distill } = await import('../../engine/distill/distill.js');
    const { plannedDevice } = await import('../../engine/runtime/index.js');
    // Say where it runs as soon as that is known ('auto' resolved); the result has the final word.
    const requested = typeof params.device === 'string' ? (params.device as Parameters<typeof plannedDevice>[0]) : 'auto';
    plannedDevice(requested).then(
      (d) => ctx.device(d),
      () => undefined,
    );
    let stage = 'start';
    const result = await distill(
      params as unknown as Parameters<typeof distill>[0],
      (e) => {
        if (e.kind === 'stage') {
          stage = e.stage;
          ctx.progress({ stage, step: 0, totalSteps: 0 });
          ctx.log(e.message, 'info', stage);
        } else if (e.kind === 'info') {
          ctx.log(e.message, 'info', stage);
        } else if (e.kind === 'fallback') {
          ctx.log(e.message, 'warn', stage);
          ctx.device(e.to);
        } else if (e.kind === 'step') {
          ctx.progress({ stage, step: e.step, totalSteps: e.totalSteps, epoch: e.epoch + 1, loss: e.loss, samplesPerSecond: e.samplesPerSecond, etaSeconds: e.etaSeconds });
        } else if (e.kind === 'epoch') {
          ctx.epoch({ epoch: e.epoch, loss: e.loss, lossKd: e.lossKd, lossCe: e.lossCe, accuracy: e.accuracy, agreement: e.agreement, kl: e.kl, seconds: e.seconds, lr: e.lr });
        }
      },
      ctx.signal,
    );
    ctx.device(result.device);
    return {
      summary: {
        device: result.device,
        trainedOn: result.trainedOn,
        fallbackReason: result.fallbackReason ?? null,
        deviceLoss: result.deviceLoss ?? null,
        workers: result.workers,
        student: result.student,
        teacher: result.teacher,
        metrics: result.metrics,
        data: result.data,
        testAccuracy: result.metrics.testAccuracy,
        agreement: result.metrics.agreement,
        samplesPerSecond: result.metrics.samplesPerSecond,
        parameters: result.student.parameters,
        sizeBytes: result.student.sizeBytes,
      },
      artifacts: [{ path: result.student.path, role: 'student.onnx', mediaType: 'application/x-onnx' }],
    };
  },
};
