// The trainer's two sessions (train step, evaluation) on one device, moved to the CPU once if
// the GPU stops responding mid-run. Nothing is lost by the move: weights and optimizer state are
// host tensors between runs (session outputs land in Node memory), so the failed run is simply
// repeated on the CPU. A failure on the CPU, or a second one, stops training with a plain message.
import type * as ort from 'onnxruntime-node';
import { createSession, DeviceLostError, runFailureReason, type CreatedSession } from '../runtime/index.js';
import { DEVICE_LABEL, type Device, type DeviceRequest } from '../runtime/providers.js';

export class TrainingRunError extends Error {}

export interface DeviceLoss {
  /** The device that failed, and the first step that was repeated on the CPU. */
  device: Device;
  step: number;
  /** ONNX Runtime's reason. */
  reason: string;
  /** The sentence shown to the user. */
  message: string;
  /** What was running when it failed, if not a training step ('measuring the student'). */
  during?: string;
}

type Which = 'train' | 'eval';
type Feeds = Record<string, ort.Tensor>;

export class TrainSessions {
  /** Set once the sessions have moved to the CPU after a device failure. */
  loss: DeviceLoss | undefined;

  private constructor(
    private readonly models: Record<Which, Uint8Array>,
    private readonly threads: number | undefined,
    private sessions: Record<Which, CreatedSession>,
  ) {}

  static async open(models: Record<Which, Uint8Array>, device: DeviceRequest, threads: number | undefined): Promise<TrainSessions> {
    const train = await createSession(models.train, { device, threads });
    const evaluation = await createSession(models.eval, { device: train.device, threads });
    return new TrainSessions(models, threads, { train, eval: evaluation });
  }

  get device(): Device {
    return this.sessions.train.device;
  }

  /** Why the sessions did not start on the requested device (creation-time fallback). */
  get startFallbackReason(): string | undefined {
    return this.sessions.train.fallbackReason;
  }

  /**
   * One run; `step` is the train step it belongs to (for messages). `onFallback` is called once,
   * after the move to the CPU and before the run is repeated there.
   */
  async run(which: Which, feeds: Feeds, step: number, onFallback: (loss: DeviceLoss) => void): Promise<ort.InferenceSession.ReturnType> {
    try {
      return await this.sessions[which].session.run(feeds);
    } catch (err) {
      if (!(err instanceof DeviceLostError) || this.loss) throw this.failure(err, step);
      const steps = step.toLocaleString('en-US');
      this.loss = { device: err.device, step, reason: err.reason, message: `The GPU (${err.device}) stopped responding at step ${steps}; continuing on the CPU.` };
      await this.reopenOnCpu();
      onFallback(this.loss);
    }
    try {
      return await this.sessions[which].session.run(feeds);
    } catch (err) {
      throw this.failure(err, step);
    }
  }

  async release(): Promise<void> {
    await Promise.all(Object.values(this.sessions).map((s) => s.session.release()));
  }

  private async reopenOnCpu(): Promise<void> {
    // The lost device's sessions may refuse to release; that must not stop the move.
    await Promise.all(Object.values(this.sessions).map((s) => s.session.release().catch(() => undefined)));
    const train = await createSession(this.models.train, { device: 'cpu', threads: this.threads });
    const evaluation = await createSession(this.models.eval, { device: 'cpu', threads: this.threads });
    this.sessions = { train, eval: evaluation };
  }

  private failure(err: unknown, step: number): TrainingRunError {
    const reason = err instanceof DeviceLostError ? err.reason : runFailureReason(err);
    const after = this.loss ? `, after ${DEVICE_LABEL[this.loss.device]} had stopped responding at step ${this.loss.step.toLocaleString('en-US')}` : '';
    return new TrainingRunError(
      `ONNX Runtime failed on ${this.device === 'cpu' ? 'the CPU' : DEVICE_LABEL[this.device]} at step ${step.toLocaleString('en-US')}${after} (${reason}); training stopped.`,
      { cause: err },
    );
  }
}
