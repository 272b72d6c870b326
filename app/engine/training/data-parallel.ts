// Data-parallel training on the CPU: each batch is cut into N contiguous slices, N worker threads
// (1 ONNX Runtime thread each) compute the slices' gradients with the gradient graph, the main
// thread sums them in worker order (deterministic) and the apply graph clips and updates the
// weights. On 2 cores this scales about 1.8x where ORT's own intra-op threads barely help
// (docs/BENCHMARKS.md). The sum equals the single-graph step's gradient: every slice is scaled
// by the full batch's size and labelled count (buildGradStep).
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../onnx/codec.js';
import type { Model } from '../onnx/ir.js';
import { GradWorkers, type GradFeeds } from './grad-workers.js';
import { probeShapes, shapeLookup } from './shape-probe.js';
import { buildApplyStep, buildGradStep, type ApplyStepGraph, type GradStepGraph, type OptimizerConfig } from './train-step.js';

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

export interface SummedGradients {
  grads: Map<string, Float32Array>;
  loss: number;
  lossKd: number;
  lossCe: number;
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
    const outputs = [...grad.gradients.values(), grad.outputs.loss, grad.outputs.lossKd, grad.outputs.lossCe];
    const bytes = new Map([...graphs].map(([size, g]) => [size, encodeModel(g.model)]));
    const pool = await GradWorkers.start(sizes.map((s) => bytes.get(s)!), outputs);
    return new DataParallel(apply, grad, sizes, pool, o);
  }

  /** The batch's gradients (summed over the slices in worker order) and loss parts. */
  async gradients(batch: BatchSlices, weights: ReadonlyMap<string, Float32Array>): Promise<SummedGradients> {
    const B = this.o.batchSize;
    const per = batch.x.length / B;
    const classes = batch.teacherProbs.length / B;
    let labelled = 0;
    for (let i = 0; i < batch.labels.length; i++) labelled += batch.labels[i]!;
    const g = this.grad.feeds;
    const scalar = (v: number) => ({ data: Float32Array.of(v), dims: [] });
    let start = 0;
    const feeds: GradFeeds[] = this.sizes.map((size) => {
      const [a, z] = [start, start + size];
      start = z;
      const f: GradFeeds = {
        [this.grad.inputName]: { data: batch.x.slice(a * per, z * per), dims: [size, ...this.o.sampleShape] },
        [g.teacherProbs]: { data: batch.teacherProbs.slice(a * classes, z * classes), dims: [size, classes] },
        [g.labels]: { data: batch.labels.slice(a * classes, z * classes), dims: [size, classes] },
        [g.temperature]: scalar(batch.temperature),
        [g.alpha]: scalar(batch.alpha),
        [g.invBatch]: scalar(1 / B),
        [g.nLabelled]: scalar(Math.max(labelled, 1)),
      };
      // Copies: the buffers are transferred to the worker.
      for (const [name, w] of weights) f[name] = { data: w.slice(), dims: this.apply.params.find((p) => p.name === name)!.dims };
      return f;
    });
    const results = await this.pool.run(feeds);
    const grads = new Map<string, Float32Array>();
    for (const [name, out] of this.grad.gradients) {
      const sum = Float32Array.from(results[0]![out]!);
      for (const r of results.slice(1)) {
        const part = r[out]!;
        for (let i = 0; i < sum.length; i++) sum[i]! += part[i]!;
      }
      grads.set(name, sum);
    }
    const total = (name: string) => results.reduce((s, r) => s + r[name]![0]!, 0);
    return { grads, loss: total(this.grad.outputs.loss), lossKd: total(this.grad.outputs.lossKd), lossCe: total(this.grad.outputs.lossCe) };
  }

  close(): Promise<void> {
    return this.pool.terminate();
  }
}
