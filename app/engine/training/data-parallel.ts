// Data-parallel training on the CPU: each batch is cut into N contiguous slices, N worker threads
// (1 ONNX Runtime thread each) compute the slices' gradients with the gradient graph, exchange
// them through shared memory, and each sums them in thread order (deterministic) and applies the
// same clipped update to its own copy of the weights (grad-workers.ts). On 2 cores this scales about 1.8x where ORT's own intra-op threads barely help
// (docs/BENCHMARKS.md). The sum equals the single-graph step's gradient: every slice is scaled
// by the full batch's size and labelled count (buildGradStep).
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../onnx/codec.js';
import type { Model } from '../onnx/ir.js';
import { GradWorkers, type GradFeeds, type ReplicaGroup, type ReplicaParam, type StepHyper, type StepReply, type StepResult } from './grad-workers.js';
import { probeShapes, shapeLookup } from './shape-probe.js';
import { buildApplyStep, buildFlatApplyStep, buildGradStep, type ApplyStepGraph, type GradStepGraph, type OptimizerConfig } from './train-step.js';

export interface DataParallelOptions {
  student: Model;
  trainable: string[];
  inputName: string;
  sampleShape: number[];
  batchSize: number;
  workers: number;
  optimizer?: OptimizerConfig;
  clipNorm?: number;
  fast?: boolean;
}

/** Sizes of N contiguous slices of a batch of B (the first B mod N get one more). */
export function sliceSizes(batchSize: number, workers: number): number[] {
  const base = Math.floor(batchSize / workers);
  return Array.from({ length: workers }, (_, i) => base + (i < batchSize % workers ? 1 : 0));
}

export interface BatchSlices {
  /** [B, ...sampleShape], [B, classes], [B, classes] (all-zero label rows = unlabelled). */
  x: Float32Array;
  teacherProbs: Float32Array;
  labels: Float32Array;
  temperature: number;
  alpha: number;
}

export interface ReplicaState {
  weights: Map<string, Float32Array>;
  /** Optimizer state by apply-graph input name. */
  state: Map<string, Float32Array>;
}

export class DataParallel {
  private constructor(
    readonly apply: ApplyStepGraph,
    private readonly grad: GradStepGraph,
    private readonly sizes: number[],
    private readonly pool: GradWorkers,
    private readonly o: DataParallelOptions,
  ) {}

  static async open(o: DataParallelOptions): Promise<DataParallel> {
    if (!Number.isInteger(o.workers) || o.workers < 2) throw new Error(`data-parallel training needs 2 or more workers, got ${o.workers}`);
    if (o.batchSize < o.workers) throw new Error(`a batch of ${o.batchSize} cannot be split over ${o.workers} workers; lower the workers or raise the batch size`);
    const sizes = sliceSizes(o.batchSize, o.workers);
    const graphs = new Map<number, GradStepGraph>();
    for (const size of new Set(sizes)) {
      const probe = new ort.Tensor('float32', new Float32Array(size * o.sampleShape.reduce((a, d) => a * d, 1)), [size, ...o.sampleShape]);
      const shapes = await probeShapes(o.student, { [o.inputName]: probe });
      graphs.set(size, buildGradStep({ student: o.student, trainable: o.trainable, batchSize: size, inputName: o.inputName, fast: o.fast ?? true, shape: shapeLookup(shapes) }));
    }
    const grad = graphs.get(sizes[0]!)!;
    const apply = buildApplyStep({ student: o.student, params: o.trainable.map((name) => ({ name, dims: o.student.graph.initializers.find((t) => t.name === name)!.dims })), optimizer: o.optimizer, clipNorm: o.clipNorm });
    // The threads update flat groups; `apply` names the weights and state for checkpoints.
    const flat = buildFlatApplyStep({ student: o.student, params: apply.params, workers: sizes.length, optimizer: o.optimizer, clipNorm: o.clipNorm });
    const slotOf = new Map(apply.params.map((p) => [p.name, p]));
    const params: ReplicaParam[] = flat.groups.flatMap((g, group) =>
      g.members.map((m) => ({ name: m.name, dims: m.dims, gradOutput: grad.gradients.get(m.name)!, group, offset: m.offset, size: m.size, state: slotOf.get(m.name)!.state.map((s) => s.input) })),
    );
    const groups: ReplicaGroup[] = flat.groups.map((g, i) => ({ input: g.name, dims: g.dims, size: g.dims.reduce((a, d) => a * d, 1), output: g.output, state: g.state, gradInputs: flat.gradInputs[i]! }));
    const bytes = new Map([...graphs].map(([size, g]) => [size, encodeModel(g.model)]));
    const pool = await GradWorkers.start({
      gradModels: sizes.map((s) => bytes.get(s)!),
      applyModel: encodeModel(flat.model),
      params,
      groups,
      lossOutputs: [grad.outputs.loss, grad.outputs.lossKd, grad.outputs.lossCe],
      applyFeeds: flat.feeds,
    });
    return new DataParallel(apply, grad, sizes, pool, o);
  }

  /** Gives every thread the weights and optimizer state to start from (copies: the caller keeps its arrays). */
  async load(from: ReplicaState): Promise<void> {
    const copy = (m: Map<string, Float32Array>) => Object.fromEntries([...m].map(([k, v]) => [k, Float32Array.from(v)]));
    await this.pool.request(Array.from({ length: this.pool.size }, () => ({ kind: 'load' as const, weights: copy(from.weights), state: copy(from.state) })));
  }

  /** One training step on the threads' weights; the loss parts are the whole batch's. */
  async step(batch: BatchSlices, hyper: StepHyper): Promise<StepResult> {
    return (await this.steps([batch], [hyper]))[0]!;
  }

  /**
   * Several steps in one message per thread (no round trip to this thread between them: about
   * 0.5 ms a step on 2 cores). One result per step run; when a step's loss is not finite its
   * update is skipped, its result (applied: false) ends the list and the later batches are not run.
   */
  async steps(batches: BatchSlices[], hypers: StepHyper[]): Promise<StepResult[]> {
    const perThread = this.sizes.map(() => [] as Array<{ feeds: GradFeeds; hyper: StepHyper }>);
    batches.forEach((batch, k) => this.slice(batch).forEach((feeds, w) => perThread[w]!.push({ feeds, hyper: hypers[k]! })));
    const [first] = (await this.pool.request(perThread.map((steps) => ({ kind: 'step' as const, steps })))) as StepReply[];
    return first!.results;
  }

  /** A batch cut into the threads' contiguous slices (copies: the buffers are transferred to the threads). */
  private slice(batch: BatchSlices): GradFeeds[] {
    const B = this.o.batchSize;
    const per = batch.x.length / B;
    const classes = batch.teacherProbs.length / B;
    let labelled = 0;
    for (let i = 0; i < batch.labels.length; i++) labelled += batch.labels[i]!;
    const g = this.grad.feeds;
    const scalar = (v: number) => ({ data: Float32Array.of(v), dims: [] });
    let start = 0;
    return this.sizes.map((size) => {
      const [a, z] = [start, start + size];
      start = z;
      return {
        [this.grad.inputName]: { data: batch.x.slice(a * per, z * per), dims: [size, ...this.o.sampleShape] },
        [g.teacherProbs]: { data: batch.teacherProbs.slice(a * classes, z * classes), dims: [size, classes] },
        [g.labels]: { data: batch.labels.slice(a * classes, z * classes), dims: [size, classes] },
        [g.temperature]: scalar(batch.temperature),
        [g.alpha]: scalar(batch.alpha),
        [g.invBatch]: scalar(1 / B),
        [g.nLabelled]: scalar(Math.max(labelled, 1)),
      };
    });
  }

  /** The current weights and optimizer state (thread 1's; every thread holds the same). */
  async snapshot(): Promise<ReplicaState> {
    const reply = await this.pool.ask(0, { kind: 'snapshot' });
    if (reply.kind !== 'snapshot') throw new Error(`internal: expected a snapshot, got '${reply.kind}'`);
    return { weights: new Map(Object.entries(reply.weights)), state: new Map(Object.entries(reply.state)) };
  }

  /** Every thread's weights and optimizer state (to check that the copies agree). */
  async snapshots(): Promise<ReplicaState[]> {
    const replies = await this.pool.request(Array.from({ length: this.pool.size }, () => ({ kind: 'snapshot' as const })));
    return replies.map((r) => {
      if (r.kind !== 'snapshot') throw new Error(`internal: expected a snapshot, got '${r.kind}'`);
      return { weights: new Map(Object.entries(r.weights)), state: new Map(Object.entries(r.state)) };
    });
  }

  close(): Promise<void> {
    return this.pool.terminate();
  }
}
