// Mixed precision: one precision per weighted layer (Conv / MatMul / Gemm, and embedding lookups:
// Gather on a table, embedding.ts), chosen by measured sensitivity under an accuracy budget.
//
// 1. Sensitivity (sensitivity.ts): each layer alone is put in each lower precision and the final
//    logits are compared with the float model's (SQNR, top-1 agreement, accuracy drop).
// 2. Greedy path: every layer starts at its most compressed precision; while the combined model
//    misses the budget, the layer that hurts most at its current precision moves one step up the
//    ladder int4 → int8 → float16 → float32. Every step is measured on the combined model, so the
//    path is the size/accuracy trade-off curve; a budget picks the first step that meets it. The
//    budget limits the accuracy drop (points), or — `budgetOn: 'agreement'` — the share of
//    predictions that differ from the float model's (points): finer-grained on robust models,
//    where every plan is within a few hundredths of a point of float accuracy.
//
// Applying a plan: (optional exact first-conv padding) → int8 static QDQ (or dynamic) for the
// int8 layers → int4 for the int4 layers (MatMulNBits; Conv: int4 weight through DequantizeLinear,
// float compute) → embedding lookups (int8 rows or GatherBlockQuantized, embedding.ts) → float16
// weight storage (weight stored as float16, a Cast to float32 in front of the op: half the bytes,
// float32 compute; a lookup casts only the rows it gathers) for the rest.
import { NameScope, sortGraph } from '../onnx/graph.js';
import { DataType, type Model, type Node } from '../onnx/ir.js';
import { elementCount, floatData } from '../onnx/tensor.js';
import type { CalibrationSource } from './calibrate.js';
import {
  cloneModel,
  constantsToInitializers,
  dropUnreadInitializers,
  floatInitializer,
  initializerMap,
  modelBytes,
  nodeLabel,
  QuantizeError,
  weightedNodes,
  type LayerPrecision,
  type LayerReport,
} from './common.js';
import { quantizeDynamic } from './dynamic.js';
import { embeddingGathers, embeddingTable, quantizeEmbeddingLayers } from './embedding.js';
import { compareLogits, dropPoints, modelLogits, type EvalOptions, type EvalSet } from './evaluate.js';
import { toHalfClamped } from './fp16.js';
import { quantizeInt4 } from './int4.js';
import { opset21Blocker } from './int4-conv.js';
import { padFirstConvChannels } from './pad-first-conv.js';
import { quantizeStatic, type StaticOptions } from './static.js';

export type Precision = LayerPrecision;

/** From most compressed to float. */
export const PRECISION_LADDER: readonly Precision[] = ['int4', 'int8', 'float16', 'float32'];

export interface WeightedLayer {
  name: string;
  op: 'Conv' | 'MatMul' | 'Gemm' | 'Gather';
  /** Weight (and bias) parameters; a Gather's table. */
  params: number;
  /** Gather: the length of a table row (int4 blocks must divide it). */
  rowLength?: number;
}

/** Weighted nodes and embedding lookups, in graph order. */
function layerNodes(model: Model): Node[] {
  const layers = new Set([...weightedNodes(model), ...embeddingGathers(model)]);
  return model.graph.nodes.filter((n) => layers.has(n));
}

export interface PlanOptions {
  /** int8 flavour: static QDQ (needs calibration; Conv too) or dynamic (MatMul/Gemm only). */
  int8Mode?: 'static' | 'dynamic';
  calibration?: CalibrationSource;
  static?: Pick<StaticOptions, 'method' | 'percentile' | 'perChannel' | 'maxBatches' | 'threads'>;
  int4?: { blockSize?: number; symmetric?: boolean };
  /** Precisions that may be used (default all four). */
  allowed?: readonly Precision[];
  /** Zero-pad the first Conv's input channels to 4 before quantizing (exact). */
  padFirstConv?: boolean;
  /**
   * Let Conv layers go to int4 (default false). ORT dequantizes an int4 Conv weight on every run
   * and leaves its fast Conv kernels: the teacher got 2x slower than float at batch 32, while
   * the search ranks plans by accuracy only. For size-first plans (and the curve bench).
   */
  int4Conv?: boolean;
}

/** Gives every weighted node a name (its label), so plans can refer to layers across rewrites. */
export function nameWeightedNodes(model: Model): Model {
  const m = cloneModel(model);
  constantsToInitializers(m.graph);
  const scope = new NameScope(m.graph);
  const used = new Set(m.graph.nodes.map((n) => n.name).filter(Boolean));
  for (const n of layerNodes(m)) {
    if (!n.name) {
      let name = nodeLabel(n);
      if (used.has(name)) name = scope.fresh(name);
      n.name = name;
      used.add(name);
    }
  }
  return m;
}

/** The weighted layers of a (named) model, with their parameter counts. */
export function weightedLayers(model: Model): WeightedLayer[] {
  const inits = initializerMap(model.graph);
  return layerNodes(model).map((n) => {
    const table = embeddingTable(model.graph, inits, n);
    if (table) return { name: nodeLabel(n), op: 'Gather', params: elementCount(table.dims), rowLength: table.dims[1]! };
    let params = 0;
    for (const i of n.inputs.slice(1)) {
      const t = floatInitializer(inits, model.graph, i);
      if (t) params += elementCount(t.dims);
    }
    return { name: nodeLabel(n), op: n.opType as WeightedLayer['op'], params };
  });
}

/**
 * Precisions a layer can take under the options (dynamic int8 has no Conv; int4 Conv only when
 * asked, `int4Conv`). `convInt4`: whether the model's opset can be raised to 21 for int4 Conv
 * weights (opset21Blocker).
 */
export function candidatePrecisions(layer: WeightedLayer, options: PlanOptions, convInt4 = true): Precision[] {
  const allowed = new Set(options.allowed ?? PRECISION_LADDER);
  const mode = options.int8Mode ?? (options.calibration ? 'static' : 'dynamic');
  return PRECISION_LADDER.filter((p) => {
    if (!allowed.has(p) && p !== 'float32') return false;
    if (p === 'int4') return layer.op === 'Gather' ? (layer.rowLength ?? 0) % (options.int4?.blockSize ?? 32) === 0 : layer.op !== 'Conv' || (convInt4 && options.int4Conv === true);
    if (p === 'int8') return layer.op !== 'Conv' || mode === 'static';
    return true;
  });
}

/**
 * Stores the weights of the named layers as float16 with a Cast back to float32 in front of the
 * op; an embedding lookup gathers float16 rows and casts only those.
 */
export function storeWeightsFp16(input: Model, layers: ReadonlySet<string>): Model {
  if (layers.size === 0) return input;
  const model = cloneModel(input);
  const g = model.graph;
  const inits = initializerMap(g);
  const names = new NameScope(g);
  const done = new Map<string, string>();
  const halfTables = new Map<string, string>();
  const added: Node[] = [];
  const toFloat = (): Node['attributes'][number] => ({ name: 'to', type: 'int', value: BigInt(DataType.FLOAT) });
  for (const n of g.nodes) {
    if (!layers.has(n.name) && !layers.has(nodeLabel(n))) continue;
    const table = embeddingTable(g, inits, n);
    if (table) {
      let half = halfTables.get(table.name);
      if (!half) {
        half = names.fresh(`${table.name}_fp16`);
        g.initializers.push({ name: half, dataType: DataType.FLOAT16, dims: [...table.dims], data: { kind: 'raw', bytes: new Uint8Array(toHalfClamped(floatData(table)).bits.buffer) } });
        halfTables.set(table.name, half);
      }
      const y = n.outputs[0]!;
      const rows = names.fresh(`${y}_fp16`);
      n.inputs[0] = half;
      n.outputs[0] = rows;
      added.push({ name: names.fresh(`${nodeLabel(n)}_rows_cast`), opType: 'Cast', domain: '', inputs: [rows], outputs: [y], attributes: [toFloat()] });
      continue;
    }
    const w = floatInitializer(inits, g, n.inputs[1]);
    if (!w) continue;
    let cast = done.get(w.name);
    if (!cast) {
      const { bits } = toHalfClamped(floatData(w));
      const half = names.fresh(`${w.name}_fp16`);
      g.initializers.push({ name: half, dataType: DataType.FLOAT16, dims: [...w.dims], data: { kind: 'raw', bytes: new Uint8Array(bits.buffer) } });
      cast = names.fresh(`${w.name}_fp16_to_fp32`);
      added.push({ name: names.fresh(`${nodeLabel(n)}_weight_cast`), opType: 'Cast', domain: '', inputs: [half], outputs: [cast], attributes: [toFloat()] });
      done.set(w.name, cast);
    }
    n.inputs[1] = cast;
  }
  g.nodes.push(...added);
  sortGraph(g);
  dropUnreadInitializers(g);
  return model;
}

export interface AppliedPlan {
  model: Model;
  layers: LayerReport[];
}

/**
 * Builds the model for a per-layer plan (layer name → precision; missing layers stay float32).
 * `model` must come from nameWeightedNodes (or have named weighted nodes).
 */
export async function applyPrecisions(model: Model, plan: Readonly<Record<string, Precision>>, options: PlanOptions = {}): Promise<AppliedPlan> {
  const layers = weightedLayers(model);
  const byName = new Map(layers.map((l) => [l.name, l]));
  const convInt4 = opset21Blocker(model) === null;
  for (const [name, p] of Object.entries(plan)) {
    const l = byName.get(name);
    if (!l) throw new QuantizeError(`mixed precision: no weighted layer named '${name}'`);
    if (!candidatePrecisions(l, options, convInt4).includes(p)) throw new QuantizeError(`mixed precision: layer '${name}' (${l.op}) cannot be ${p} here`);
  }
  // Embedding lookups go through embedding.ts directly, not the int8/int4 methods (which need a MatMul/Conv).
  const of = (p: Precision, lookups = false): string[] => layers.filter((l) => (l.op === 'Gather') === lookups && (plan[l.name] ?? 'float32') === p).map((l) => l.name);
  const int8 = of('int8');
  const int4 = of('int4');
  const fp16 = [...of('float16'), ...of('float16', true)];
  const mode = options.int8Mode ?? (options.calibration ? 'static' : 'dynamic');
  let m = model;
  const notes = new Map<string, string>();
  if (options.padFirstConv && int8.length > 0 && mode === 'static') {
    const padded = padFirstConvChannels(m, 4);
    if (padded.conv && int8.includes(padded.conv)) {
      m = padded.model;
      notes.set(padded.conv, `input channels zero-padded ${padded.channelsBefore} → ${padded.channelsAfter} (exact)`);
    }
  }
  if (int8.length > 0) {
    const others = layers.filter((l) => !int8.includes(l.name)).map((l) => l.name);
    if (mode === 'static') {
      if (!options.calibration) throw new QuantizeError('int8 static layers need calibration data');
      m = (await quantizeStatic(m, options.calibration, { ...options.static, excludeNodes: others })).model;
    } else {
      m = quantizeDynamic(m, { perChannel: false, excludeNodes: others }).model;
    }
  }
  if (int4.length > 0) {
    const others = layers.filter((l) => !int4.includes(l.name)).map((l) => l.name);
    m = quantizeInt4(m, {
      blockSize: options.int4?.blockSize ?? 32,
      symmetric: options.int4?.symmetric ?? false,
      excludeNodes: others,
      allowQuantized: true,
    }).model;
  }
  const lookupReports = new Map<string, LayerReport>();
  for (const bits of [8, 4] as const) {
    const chosen = of(bits === 8 ? 'int8' : 'int4', true);
    if (chosen.length === 0) continue;
    const r = quantizeEmbeddingLayers(m, new Set(chosen), { bits, blockSize: options.int4?.blockSize ?? 32, symmetric: options.int4?.symmetric ?? false });
    m = r.model;
    for (const l of r.layers) lookupReports.set(l.name, l);
  }
  m = storeWeightsFp16(m, new Set(fp16));
  const report: LayerReport[] = layers.map((l) => {
    const lookup = lookupReports.get(l.name);
    if (lookup) return lookup;
    const p = plan[l.name] ?? 'float32';
    const int4 = l.op === 'Conv' ? 'int4 weight (DequantizeLinear), float32 compute' : 'int4 MatMulNBits';
    const fp16Note = l.op === 'Gather' ? 'float16 table, the rows looked up cast to float32' : 'float16 weights, float32 compute';
    const note =
      p === 'int8' ? `int8 ${mode}` : p === 'int4' ? `${int4}, block ${options.int4?.blockSize ?? 32}` : p === 'float16' ? fp16Note : undefined;
    const extra = notes.get(l.name);
    return { name: l.name, op: l.op, precision: p, ...(note || extra ? { note: [note, extra].filter(Boolean).join('; ') } : {}) };
  });
  return { model: m, layers: report };
}

export interface Sensitivity {
  /** SQNR (dB) of the final logits with only this layer at this precision. */
  sqnr: number;
  /** Accuracy drop in points (or disagreement in points without labels). */
  accuracyDrop: number;
  agreement: number;
}

export interface LayerSensitivity extends WeightedLayer {
  /** Per lower precision the layer can take. */
  byPrecision: Partial<Record<Precision, Sensitivity>>;
}

export interface Reference {
  logits: Float32Array;
  classes: number;
  accuracy: number | null;
}

export async function referenceOf(model: Model, set: EvalSet, evalOptions: EvalOptions = {}): Promise<Reference> {
  const { logits, classes } = await modelLogits(model, set, evalOptions);
  const acc = set.y ? compareLogits(logits, logits, classes, set.y).accuracy : null;
  return { logits, classes, accuracy: acc };
}

async function measure(m: Model, ref: Reference, set: EvalSet, evalOptions: EvalOptions): Promise<Sensitivity & { accuracy: number | null }> {
  const { logits } = await modelLogits(m, set, evalOptions);
  const c = compareLogits(ref.logits, logits, ref.classes, set.y);
  return { sqnr: c.sqnr, agreement: c.agreement, accuracy: c.accuracy, accuracyDrop: dropPoints(ref.accuracy, c) };
}

/**
 * Sensitivity of every weighted layer: the layer alone at each of its lower precisions, the rest
 * float32. Ranked most sensitive first (accuracy drop at int8 — or its lowest precision — then SQNR).
 */
export async function layerSensitivity(
  model: Model,
  set: EvalSet,
  options: PlanOptions & { evalOptions?: EvalOptions; reference?: Reference; onLayer?: (name: string, p: Precision, s: Sensitivity) => void } = {},
): Promise<LayerSensitivity[]> {
  const named = nameWeightedNodes(model);
  const ref = options.reference ?? (await referenceOf(named, set, options.evalOptions));
  const out: LayerSensitivity[] = [];
  const convInt4 = opset21Blocker(named) === null;
  for (const layer of weightedLayers(named)) {
    const entry: LayerSensitivity = { ...layer, byPrecision: {} };
    for (const p of candidatePrecisions(layer, options, convInt4)) {
      if (p === 'float32') continue;
      const { model: m } = await applyPrecisions(named, { [layer.name]: p }, { ...options, padFirstConv: false });
      const s = await measure(m, ref, set, options.evalOptions ?? {});
      entry.byPrecision[p] = { sqnr: s.sqnr, accuracyDrop: s.accuracyDrop, agreement: s.agreement };
      options.onLayer?.(layer.name, p, entry.byPrecision[p]!);
    }
    out.push(entry);
  }
  return out.sort((a, b) => severity(b) - severity(a));
}

/** One number per layer for ranking: its int8 (else lowest) sensitivity. */
export function headline(l: LayerSensitivity): Sensitivity | undefined {
  return l.byPrecision.int8 ?? l.byPrecision.int4 ?? l.byPrecision.float16;
}

function severity(l: LayerSensitivity, p?: Precision): number {
  const s = p ? l.byPrecision[p] : headline(l);
  if (!s) return -Infinity;
  // Accuracy drop first; SQNR breaks ties (lower SQNR = more sensitive).
  return s.accuracyDrop * 1000 - Math.min(200, Number.isFinite(s.sqnr) ? s.sqnr : 200);
}

export interface PathStep {
  plan: Record<string, Precision>;
  sizeBytes: number;
  accuracy: number | null;
  accuracyDrop: number;
  agreement: number;
  sqnr: number;
  /** The layer raised to reach this step (null for the start). */
  changed: { layer: string; from: Precision; to: Precision } | null;
}

export interface MixedResult {
  model: Model;
  layers: Array<{ name: string; op: string; params: number; sensitivity: { sqnr: number; accuracyDrop: number }; precision: Precision; byPrecision: LayerSensitivity['byPrecision'] }>;
  reportLayers: LayerReport[];
  path: PathStep[];
  chosen: number;
  budgetMet: boolean;
  reference: { accuracy: number | null; sizeBytes: number };
}

/** What the budget limits: accuracy drop (default; disagreement without labels) or disagreement with float. */
export type BudgetOn = 'accuracy' | 'agreement';

/** A step's cost against the budget, in points. */
export function budgetCost(step: Pick<PathStep, 'accuracyDrop' | 'agreement'>, on: BudgetOn = 'accuracy'): number {
  return on === 'agreement' ? (1 - step.agreement) * 100 : step.accuracyDrop;
}

/**
 * What the plan minimises within the budget: 'size' (default; the whole ladder) or 'latency'
 * (int8 or float32 only: on CPUs int4 weights — MatMulNBits, int4 Conv weights — and float16
 * storage run no faster than float32 here, docs/BENCHMARKS.md, so the fastest plan within the
 * budget is the one with the most int8 layers).
 */
export type MixedObjective = 'size' | 'latency';

const LATENCY_PRECISIONS: readonly Precision[] = ['int8', 'float32'];

/** The options a plan search runs with for `objective`. */
function forObjective<T extends MixedOptions>(options: T): T {
  if (options.objective !== 'latency') return options;
  const allowed = (options.allowed ?? PRECISION_LADDER).filter((p) => LATENCY_PRECISIONS.includes(p));
  return { ...options, allowed: allowed.length > 0 ? allowed : LATENCY_PRECISIONS };
}

export interface MixedOptions extends PlanOptions {
  /** Largest accepted accuracy drop (or disagreement, see budgetOn) in points (default 1). */
  maxAccuracyDrop?: number;
  objective?: MixedObjective;
  budgetOn?: BudgetOn;
  evalOptions?: EvalOptions;
  sensitivity?: LayerSensitivity[];
  reference?: Reference;
  /** Keep raising layers after the budget is met (to trace the whole curve). Default false. */
  fullPath?: boolean;
  onStep?: (step: PathStep) => void;
}

/** The greedy path from everything-compressed towards float, stopping when the budget is met (or at float). */
export async function mixedPrecisionPath(model: Model, set: EvalSet, asked: MixedOptions = {}): Promise<{ path: PathStep[]; sensitivity: LayerSensitivity[]; reference: Reference; named: Model }> {
  const options = forObjective(asked);
  const named = nameWeightedNodes(model);
  const budget = options.maxAccuracyDrop ?? 1;
  const ref = options.reference ?? (await referenceOf(named, set, options.evalOptions));
  const sens = options.sensitivity ?? (await layerSensitivity(named, set, { ...options, reference: ref }));
  const layers = weightedLayers(named);
  const convInt4 = opset21Blocker(named) === null;
  const cands = new Map(layers.map((l) => [l.name, candidatePrecisions(l, options, convInt4)]));
  const plan: Record<string, Precision> = {};
  for (const l of layers) plan[l.name] = cands.get(l.name)![0]!;
  const path: PathStep[] = [];
  const evalPlan = async (changed: PathStep['changed']): Promise<PathStep> => {
    const { model: m } = await applyPrecisions(named, plan, options);
    const s = await measure(m, ref, set, options.evalOptions ?? {});
    const step: PathStep = { plan: { ...plan }, sizeBytes: modelBytes(m), accuracy: s.accuracy, accuracyDrop: s.accuracyDrop, agreement: s.agreement, sqnr: s.sqnr, changed };
    options.onStep?.(step);
    return step;
  };
  path.push(await evalPlan(null));
  const sensByName = new Map(sens.map((s) => [s.name, s]));
  for (;;) {
    const last = path[path.length - 1]!;
    if (budgetCost(last, options.budgetOn) <= budget && !options.fullPath) break;
    // The layer that hurts most at its current precision moves one step up.
    let pick: string | null = null;
    let worst = -Infinity;
    for (const l of layers) {
      const p = plan[l.name]!;
      if (p === 'float32') continue;
      const sv = severity(sensByName.get(l.name)!, p);
      if (sv > worst) {
        worst = sv;
        pick = l.name;
      }
    }
    if (!pick) break;
    const list = cands.get(pick)!;
    const from = plan[pick]!;
    plan[pick] = list[list.indexOf(from) + 1]!;
    path.push(await evalPlan({ layer: pick, from, to: plan[pick]! }));
  }
  return { path, sensitivity: sens, reference: ref, named };
}

/** The first step of a path that meets the budget (else the step closest to it). */
export function chooseStep(path: PathStep[], maxAccuracyDrop: number, on: BudgetOn = 'accuracy'): { index: number; met: boolean } {
  const i = path.findIndex((s) => budgetCost(s, on) <= maxAccuracyDrop);
  if (i >= 0) return { index: i, met: true };
  let best = 0;
  path.forEach((s, j) => {
    if (budgetCost(s, on) < budgetCost(path[best]!, on)) best = j;
  });
  return { index: best, met: false };
}

/** Mixed precision under an accuracy budget: sensitivity, greedy path, the chosen model and its per-layer report. */
export async function quantizeMixed(model: Model, set: EvalSet, asked: MixedOptions = {}): Promise<MixedResult> {
  const options = forObjective(asked);
  const budget = options.maxAccuracyDrop ?? 1;
  const { path, sensitivity, reference, named } = await mixedPrecisionPath(model, set, options);
  const { index, met } = chooseStep(path, budget, options.budgetOn);
  const step = path[index]!;
  const applied = await applyPrecisions(named, step.plan, options);
  const sensByName = new Map(sensitivity.map((s) => [s.name, s]));
  const layers = weightedLayers(named).map((l) => {
    const s = sensByName.get(l.name)!;
    const h = headline(s);
    return {
      name: l.name,
      op: l.op,
      params: l.params,
      sensitivity: { sqnr: h?.sqnr ?? Infinity, accuracyDrop: h?.accuracyDrop ?? 0 },
      precision: step.plan[l.name] ?? 'float32',
      byPrecision: s.byPrecision,
    };
  });
  return {
    model: applied.model,
    layers,
    reportLayers: applied.layers,
    path,
    chosen: index,
    budgetMet: met,
    reference: { accuracy: reference.accuracy, sizeBytes: modelBytes(model) },
  };
}
