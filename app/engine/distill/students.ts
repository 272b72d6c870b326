// Student templates (DESIGN.md grammar) built as ONNX inference models with He initialisation.
//   mlp:H1[,H2,...]    Flatten, (Gemm H_i, Relu)*, Gemm classes
//   cnn:C1[,C2,...]/F  (Conv3x3 pad 1 C_i, Relu, MaxPool 2x2)*, Flatten, Gemm F, Relu, Gemm classes
import { createRng, type Rng } from '../data/prng.js';
import { GraphBuilder } from '../onnx/graph.js';
import { DataType, emptyModel, type Model } from '../onnx/ir.js';
import { floatTensor } from '../onnx/tensor.js';

export type StudentTemplate =
  | { kind: 'mlp'; hidden: number[] }
  | { kind: 'cnn'; channels: number[]; fc: number };

export class TemplateError extends Error {}

const MAX_WIDTH = 1 << 16;

function positiveInts(text: string, what: string, spec: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  return parts.map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > MAX_WIDTH) {
      throw new TemplateError(`student template '${spec}': ${what} '${p}' must be a whole number from 1 to ${MAX_WIDTH}`);
    }
    return n;
  });
}

export function parseTemplate(spec: string): StudentTemplate {
  const s = spec.trim();
  const mlp = /^mlp:(.+)$/i.exec(s);
  if (mlp) return { kind: 'mlp', hidden: positiveInts(mlp[1]!, 'layer width', spec) };
  const cnn = /^cnn:([^/]+)\/(.+)$/i.exec(s);
  if (cnn) {
    const fc = positiveInts(cnn[2]!, 'dense width', spec);
    if (fc.length !== 1) throw new TemplateError(`student template '${spec}': exactly one dense width after '/' (e.g. cnn:8,16/32)`);
    return { kind: 'cnn', channels: positiveInts(cnn[1]!, 'channel count', spec), fc: fc[0]! };
  }
  throw new TemplateError(`unknown student template '${spec}': use mlp:H1[,H2...] (e.g. mlp:128) or cnn:C1[,C2...]/F (e.g. cnn:8,16/32)`);
}

export function formatTemplate(t: StudentTemplate): string {
  return t.kind === 'mlp' ? `mlp:${t.hidden.join(',')}` : `cnn:${t.channels.join(',')}/${t.fc}`;
}

function gaussian(rng: Rng): number {
  // Box–Muller; 1 - u keeps log away from 0.
  const u = 1 - rng.next();
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function heNormal(rng: Rng, count: number, fanIn: number): Float32Array {
  const std = Math.sqrt(2 / fanIn);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = gaussian(rng) * std;
  return out;
}

export interface StudentSpec {
  template: StudentTemplate;
  /** Per-sample input shape, e.g. [1, 28, 28] for images or [20] for CSV features. */
  sampleShape: number[];
  classes: number;
  seed: number;
  inputName?: string;
  outputName?: string;
}

/** Builds the student as an inference model: input [batch, ...sampleShape] → logits [batch, classes]. */
export function buildStudent(spec: StudentSpec): Model {
  const { template, sampleShape, classes } = spec;
  if (classes < 2) throw new TemplateError(`a classifier needs at least 2 classes, got ${classes}`);
  const rng = createRng(spec.seed);
  const model = emptyModel(17, `student_${formatTemplate(template).replace(/[^a-z0-9]+/gi, '_')}`);
  model.docString = `Distillery student ${formatTemplate(template)}`;
  const b = new GraphBuilder(model.graph);
  const input = b.input(spec.inputName ?? 'input', DataType.FLOAT, ['batch', ...sampleShape]);
  let x = input;
  let features: number;

  const dense = (name: string, inFeatures: number, outFeatures: number, v: string): string => {
    const w = b.initializer(floatTensor(`${name}.weight`, [outFeatures, inFeatures], heNormal(rng, inFeatures * outFeatures, inFeatures)));
    const bias = b.initializer(floatTensor(`${name}.bias`, [outFeatures], new Float32Array(outFeatures)));
    return b.op('Gemm', [v, w, bias], { transB: 1 }, { name });
  };

  if (template.kind === 'mlp') {
    x = b.op('Flatten', [x], { axis: 1 }, { name: 'flatten' });
    features = sampleShape.reduce((a, d) => a * d, 1);
    template.hidden.forEach((h, i) => {
      x = b.op('Relu', [dense(`fc${i + 1}`, features, h, x)], {}, { name: `relu${i + 1}` });
      features = h;
    });
  } else {
    if (sampleShape.length !== 3) {
      throw new TemplateError(`a cnn student needs image input [channels, height, width]; this data has samples of shape [${sampleShape}]`);
    }
    let [c, h, w] = sampleShape as [number, number, number];
    template.channels.forEach((out, i) => {
      if (h < 2 || w < 2) throw new TemplateError(`cnn template has too many conv stages for ${sampleShape[1]}x${sampleShape[2]} images`);
      const fanIn = c * 9;
      const wt = b.initializer(floatTensor(`conv${i + 1}.weight`, [out, c, 3, 3], heNormal(rng, out * fanIn, fanIn)));
      const bias = b.initializer(floatTensor(`conv${i + 1}.bias`, [out], new Float32Array(out)));
      x = b.op('Conv', [x, wt, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: `conv${i + 1}` });
      x = b.op('Relu', [x], {}, { name: `conv_relu${i + 1}` });
      x = b.op('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] }, { name: `pool${i + 1}` });
      c = out;
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    });
    x = b.op('Flatten', [x], { axis: 1 }, { name: 'flatten' });
    features = c * h * w;
    x = b.op('Relu', [dense('fc1', features, template.fc, x)], {}, { name: 'fc_relu1' });
    features = template.fc;
  }
  const logits = b.op('Gemm', [x, ...denseParams(b, rng, 'head', features, classes)], { transB: 1 }, { name: 'head', output: spec.outputName ?? 'logits' });
  b.output(logits, DataType.FLOAT, ['batch', classes]);
  return model;
}

function denseParams(b: GraphBuilder, rng: Rng, name: string, inFeatures: number, outFeatures: number): [string, string] {
  // The head uses a smaller (Xavier-like) scale so initial logits are near zero.
  const std = Math.sqrt(1 / inFeatures);
  const w = new Float32Array(inFeatures * outFeatures);
  for (let i = 0; i < w.length; i++) w[i] = gaussian(rng) * std;
  return [
    b.initializer(floatTensor(`${name}.weight`, [outFeatures, inFeatures], w)),
    b.initializer(floatTensor(`${name}.bias`, [outFeatures], new Float32Array(outFeatures))),
  ];
}

/** Parameter count of a template, to size a student for a goal before building it. */
export function templateParameters(t: StudentTemplate, sampleShape: number[], classes: number): number {
  if (t.kind === 'mlp') {
    let f = sampleShape.reduce((a, d) => a * d, 1);
    let n = 0;
    for (const h of t.hidden) {
      n += f * h + h;
      f = h;
    }
    return n + f * classes + classes;
  }
  let [c, h, w] = sampleShape as [number, number, number];
  let n = 0;
  for (const out of t.channels) {
    n += out * c * 9 + out;
    c = out;
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
  }
  const f = c * h * w;
  return n + f * t.fc + t.fc + t.fc * classes + classes;
}
