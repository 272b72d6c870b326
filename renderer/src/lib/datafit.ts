// Does a dataset fit a teacher? Shape, classes and balance, in plain words.
import type { DatasetInspection, ModelInspection } from '../../../app/contract/api.js';
import { formatShape } from './format.js';

export interface Fit {
  ok: boolean;
  problems: string[];
  notes: string[];
  /** Input shape without the batch dimension, when known. */
  inputShape: number[] | null;
  classes: number | null;
}

export function teacherInputShape(m: ModelInspection): number[] | null {
  const shape = m.inputs[0]?.shape;
  if (!shape) return null;
  const rest = shape.slice(1);
  return rest.every((d) => typeof d === 'number') ? (rest as number[]) : null;
}

export function teacherClasses(m: ModelInspection): number | null {
  const shape = m.outputs[0]?.shape;
  const last = shape?.[shape.length - 1];
  return typeof last === 'number' ? last : null;
}

export function checkFit(m: ModelInspection, ds: DatasetInspection): Fit {
  const problems: string[] = [];
  const notes: string[] = [];
  const input = teacherInputShape(m);
  const classes = teacherClasses(m);
  const count = (a: number[]) => a.reduce((x, y) => x * y, 1);
  if (input && ds.sampleShape.length) {
    const same = input.length === ds.sampleShape.length && input.every((d, i) => d === ds.sampleShape[i]);
    if (!same) {
      if (count(input) === count(ds.sampleShape)) notes.push(`The data (${formatShape(ds.sampleShape)}) will be reshaped to the teacher's input (${formatShape(input)}).`);
      else problems.push(`The teacher expects inputs of ${formatShape(input)} but each item of this dataset is ${formatShape(ds.sampleShape)}.`);
    }
  }
  if (classes != null && ds.classes.length > 0 && classes !== ds.classes.length) {
    problems.push(`The teacher answers with ${classes} classes but the dataset has ${ds.classes.length}.`);
  }
  if (ds.train.count < 100) problems.push(`Only ${ds.train.count} training items: Distillery needs at least 100 to train a student.`);
  const balance = ds.train.balance.filter((b) => b > 0);
  if (balance.length > 1) {
    const ratio = Math.max(...balance) / Math.min(...balance);
    if (ratio > 5) notes.push(`Some classes have ${ratio.toFixed(0)}× more items than others; accuracy may hide poor results on the rare ones.`);
  }
  const missing = ds.train.balance.map((b, i) => (b === 0 ? ds.classes[i] : null)).filter((x): x is string => x != null);
  if (missing.length) notes.push(`No training items for: ${missing.join(', ')}.`);
  if (ds.train.unlabeled > 0) notes.push(`${ds.train.unlabeled.toLocaleString('en-US')} items have no label; the teacher's answers will be used for them.`);
  if (!ds.test) notes.push('No separate test split: Distillery will set aside a seeded part of the data for testing.');
  return { ok: problems.length === 0, problems, notes, inputShape: input, classes };
}
