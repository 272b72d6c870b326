// The compression wizard's logic: steps, the goal in plain words, the plan it proposes (student
// sized to the goal + quantization with an accuracy guard) and the configs it starts.
import type { DistillConfig, QuantizeConfig, QuantizeMethod } from '../../../app/contract/api.js';
import { formatCount } from './format.js';

export const WIZARD_STEPS = ['data', 'goal', 'plan', 'review'] as const;
export type WizardStep = (typeof WIZARD_STEPS)[number];

export const STEP_TITLES: Record<WizardStep, string> = { data: 'Data', goal: 'Goal', plan: 'Plan', review: 'Review' };

export type SizeGoal = 'half' | 'quarter' | 'tenth';
export type SpeedGoal = 'any' | '2x' | '4x';

export interface Goal {
  size: SizeGoal;
  speed: SpeedGoal;
  /** Accuracy points the user accepts to lose (1 = one percentage point). */
  maxDropPoints: number;
}

export const SIZE_GOALS: { value: SizeGoal; label: string; factor: number }[] = [
  { value: 'half', label: 'Half the size', factor: 0.5 },
  { value: 'quarter', label: 'A quarter of the size', factor: 0.25 },
  { value: 'tenth', label: 'A tenth of the size', factor: 0.1 },
];

export const SPEED_GOALS: { value: SpeedGoal; label: string }[] = [
  { value: 'any', label: 'Speed does not matter' },
  { value: '2x', label: 'About twice as fast' },
  { value: '4x', label: 'At least four times as fast' },
];

export interface Advanced {
  student: string;
  epochs: number;
  lr: number;
  batchSize: number;
  temperature: number;
  alpha: number;
  quantize: QuantizeMethod | 'none';
  calibrationMethod: 'minmax' | 'percentile' | 'entropy';
  /** Samples per split, for a quick trial; null = all. */
  limit: number | null;
  seed: number;
  /** Data-parallel training threads, or 'auto' (one per core for convolutional students). */
  workers: number | 'auto';
  /** Extra views of each training image, labelled by the teacher (images only). */
  augment: 'none' | 'shift' | 'shift-flip';
  /** Views per image with augment, the original included. */
  augmentViews: number;
}

export interface TeacherFacts {
  path: string;
  parameters: number;
  /** Input shape without the batch dimension, e.g. [1, 28, 28]. */
  inputShape: number[];
  classes: number;
}

export interface Plan extends Advanced {
  studentParameters: number;
  explanation: string[];
}

export function studentParameters(template: string, inputShape: number[], classes: number): number {
  const mlp = /^mlp:([\d,]+)$/i.exec(template);
  if (mlp) {
    let prev = inputShape.reduce((a, b) => a * b, 1);
    let total = 0;
    for (const h of mlp[1]!.split(',').map(Number)) {
      total += prev * h + h;
      prev = h;
    }
    return total + prev * classes + classes;
  }
  const cnn = /^cnn:([\d,]+)\/(\d+)$/i.exec(template);
  if (cnn) {
    let [c, h, w] = inputShape.length === 3 ? (inputShape as [number, number, number]) : [1, 28, 28];
    let total = 0;
    for (const out of cnn[1]!.split(',').map(Number)) {
      total += c * out * 9 + out;
      c = out;
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
    const f = Number(cnn[2]);
    return total + c * h * w * f + f + f * classes + classes;
  }
  return NaN;
}

const CNN_LADDER = ['cnn:4,8/16', 'cnn:8,16/32', 'cnn:16,32/64', 'cnn:32,64/128', 'cnn:64,128/256'];
const MLP_LADDER = ['mlp:16', 'mlp:32', 'mlp:64', 'mlp:128', 'mlp:256,128', 'mlp:512,256'];

export const DEFAULTS: Omit<Advanced, 'student' | 'quantize'> = {
  epochs: 3,
  lr: 0.003,
  batchSize: 64,
  temperature: 4,
  alpha: 0.9,
  calibrationMethod: 'minmax',
  limit: null,
  seed: 42,
  workers: 'auto',
  augment: 'none',
  augmentViews: 4,
};

/** Training samples per epoch the plan aims at with augmentation, and per run in all. */
const VIEW_BUDGET = 160_000;
const SAMPLE_BUDGET = 2_000_000;

/**
 * Small image sets get extra views (shifted copies), labelled by the
 * teacher, up to about VIEW_BUDGET samples an epoch; epochs fill about SAMPLE_BUDGET samples
 * (3–12). The demo's recipe on the bundled sample (10,000 images): 16 views, 12 epochs, about 4
 * minutes on 2 cores; with 8 views its student scores 0.4 points lower, without views about 3
 * points lower (docs/BENCHMARKS.md).
 * Mirrored views stay opt-in: a mirror changes the label of digits and letters.
 */
export function trainingPlan(imageLike: boolean, trainCount: number | undefined): Pick<Advanced, 'epochs' | 'augment' | 'augmentViews'> {
  const count = trainCount && trainCount > 0 ? trainCount : 10_000;
  const views = imageLike ? Math.min(16, Math.round(VIEW_BUDGET / count)) : 1;
  const augmented = views >= 2;
  const perEpoch = count * (augmented ? views : 1);
  const epochs = Math.max(3, Math.min(12, Math.round(SAMPLE_BUDGET / perEpoch)));
  return augmented ? { epochs, augment: 'shift', augmentViews: views } : { epochs, augment: 'none', augmentViews: DEFAULTS.augmentViews };
}

export function proposePlan(teacher: TeacherFacts, goal: Goal, trainCount?: number): Plan {
  const factor = SIZE_GOALS.find((g) => g.value === goal.size)?.factor ?? 0.25;
  const quantize = (factor <= 0.25 || goal.speed !== 'any' ? (goal.maxDropPoints < 0.5 ? 'fp16' : 'dynamic') : 'none') as QuantizeMethod | 'none';
  const quantShrink = quantize === 'dynamic' || quantize === 'static' ? 4 : quantize === 'fp16' ? 2 : 1;
  // Quantization already divides weight bytes; the student only needs the rest of the way,
  // but always at least halve the teacher so distillation earns its keep.
  const budget = Math.min(teacher.parameters * 0.5, (teacher.parameters * factor * quantShrink) / (goal.speed === '4x' ? 2 : 1));
  const imageLike = teacher.inputShape.length === 3 && teacher.inputShape[1]! >= 8 && teacher.inputShape[2]! >= 8;
  const ladder = imageLike ? CNN_LADDER : MLP_LADDER;
  let student = ladder[0]!;
  let params = studentParameters(student, teacher.inputShape, teacher.classes);
  for (const t of ladder) {
    const p = studentParameters(t, teacher.inputShape, teacher.classes);
    if (p <= budget) {
      student = t;
      params = p;
    }
  }
  const ratio = teacher.parameters / params;
  const explanation = [
    `A ${imageLike ? 'small convolutional network' : 'small fully connected network'} (${student}) with ${formatCount(params)} parameters learns from the teacher's answers: about ${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}× fewer parameters than the teacher (${formatCount(teacher.parameters)}).`,
    quantize === 'none'
      ? 'No quantization: the smaller student alone meets your size goal.'
      : quantize === 'fp16'
        ? 'Then its weights are stored as 16-bit numbers (half the bytes, almost no accuracy change), because you asked to keep accuracy very close.'
        : `Then its weights are stored as 8-bit integers (about 4× fewer bytes). If that loses more than ${goal.maxDropPoints} point${goal.maxDropPoints === 1 ? '' : 's'} of accuracy, Distillery keeps the float model and tells you.`,
  ];
  const training = trainingPlan(imageLike, trainCount);
  if (training.augment !== 'none') {
    explanation.push(
      `It learns from ${training.augmentViews} views of each training image (shifted copies), all labelled by the teacher, for ${training.epochs} epochs: on small image sets this brings the student closer to the teacher than more epochs would.`,
    );
  }
  return { ...DEFAULTS, ...training, student, quantize, studentParameters: params, explanation };
}

export interface DraftData {
  teacher: string | null;
  data: string | null;
  dataOk: boolean;
}

/** Why the user cannot go on from a step, in plain words; null when they can. */
export function blockerOf(step: WizardStep, draft: DraftData, advanced?: Advanced): string | null {
  if (step === 'data') {
    if (!draft.teacher) return 'Pick a teacher model first (Teacher wizard).';
    if (!draft.data) return 'Pick a dataset, or use the sample.';
    if (!draft.dataOk) return 'The dataset does not fit the teacher yet; see the check above.';
  }
  if (step === 'plan' && advanced) {
    if (!(advanced.epochs >= 1 && advanced.epochs <= 1000 && Number.isInteger(advanced.epochs))) return 'Epochs must be a whole number from 1 to 1000.';
    if (!(advanced.lr > 0 && advanced.lr <= 10)) return 'The learning rate must be above 0 and at most 10.';
    if (!(advanced.batchSize >= 1 && Number.isInteger(advanced.batchSize))) return 'The batch size must be a whole number of at least 1.';
    if (!(advanced.temperature > 0 && advanced.temperature <= 100)) return 'The temperature must be above 0 and at most 100.';
    if (!(advanced.alpha >= 0 && advanced.alpha <= 1)) return 'Alpha must be between 0 and 1.';
    const w = advanced.workers;
    if (w !== 'auto' && !(w >= 1 && w <= 8 && Number.isInteger(w))) return 'Parallel training workers must be Automatic or a whole number from 1 to 8.';
    if (w !== 'auto' && w > advanced.batchSize) return 'Parallel training workers cannot exceed the batch size.';
    if (advanced.augment !== 'none' && !(Number.isInteger(advanced.augmentViews) && advanced.augmentViews >= 2 && advanced.augmentViews <= 32)) return 'Views per image must be a whole number from 2 to 32.';
    if (!/^(mlp|cnn):[0-9,/]+$/i.test(advanced.student) && !advanced.student.startsWith('/')) return 'The student must be a template such as cnn:8,16/32 or mlp:64.';
  }
  return null;
}

export function nextStep(step: WizardStep): WizardStep | null {
  const i = WIZARD_STEPS.indexOf(step);
  return WIZARD_STEPS[i + 1] ?? null;
}
export function prevStep(step: WizardStep): WizardStep | null {
  const i = WIZARD_STEPS.indexOf(step);
  return i > 0 ? WIZARD_STEPS[i - 1]! : null;
}

/** Several teachers (an ensemble) teach their averaged soft targets. */
export function distillConfig(teachers: string[], data: string, plan: Advanced, name?: string): DistillConfig {
  const c: DistillConfig = {
    teachers: [...teachers],
    data,
    student: plan.student,
    epochs: plan.epochs,
    lr: plan.lr,
    batchSize: plan.batchSize,
    temperature: plan.temperature,
    alpha: plan.alpha,
    seed: plan.seed,
  };
  if (plan.limit != null) c.limit = plan.limit;
  c.workers = plan.workers;
  if (plan.augment !== 'none') Object.assign(c, { augment: plan.augment, augmentViews: plan.augmentViews });
  if (name) c.name = name;
  return c;
}

export function quantizeConfig(model: string, data: string, plan: Advanced, goal: Goal, parentId: string): QuantizeConfig | null {
  if (plan.quantize === 'none') return null;
  const c: QuantizeConfig = { model, method: plan.quantize, eval: data, maxAccuracyDrop: goal.maxDropPoints, parentId };
  // Static, mixed and auto calibrate activation ranges on the data; mixed and auto also keep
  // the accuracy drop within the goal's budget (the job measures it on the same data).
  if (plan.quantize === 'static' || plan.quantize === 'mixed' || plan.quantize === 'auto') {
    c.calib = data;
    c.calibrationMethod = plan.calibrationMethod;
  }
  // A speed goal makes mixed precision look for the fastest plan within the budget, not the smallest.
  if (plan.quantize === 'mixed') c.objective = goal.speed === 'any' ? 'size' : 'latency';
  if (plan.limit != null) c.limit = plan.limit;
  return c;
}
