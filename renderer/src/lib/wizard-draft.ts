// The compression wizard's draft, kept in localStorage so a reload (or an accidental navigation)
// does not lose it: saved at every step, cleared when a run starts. Validated on the way back in
// (storage is user-editable and may hold an older shape): anything malformed is dropped, never thrown.
import { DEFAULTS, WIZARD_STEPS, type Advanced, type Goal, type Plan, type WizardStep } from './plan.js';

export const DRAFT_KEY = 'distillery.wizardDraft.v1';

export interface WizardDraft {
  /** The teacher the draft was made for; a draft for another teacher is not restored. */
  teacher: string | null;
  step: WizardStep;
  dataPath: string;
  goal: Goal;
  plan: Plan | null;
  advanced: Advanced | null;
  quick: boolean;
  name: string;
  savedAt: number;
}

/** The part of Web Storage used here (localStorage in the app, a Map in tests). */
export interface DraftStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function validGoal(v: unknown): Goal | null {
  if (!isObj(v)) return null;
  if (!['half', 'quarter', 'tenth'].includes(v.size as string) || !['any', '2x', '4x'].includes(v.speed as string) || !isNum(v.maxDropPoints)) return null;
  return { size: v.size as Goal['size'], speed: v.speed as Goal['speed'], maxDropPoints: v.maxDropPoints };
}

function validAdvanced(v: unknown): boolean {
  return (
    isObj(v) && isStr(v.student) && isNum(v.epochs) && isNum(v.lr) && isNum(v.batchSize) && isNum(v.temperature) && isNum(v.alpha) &&
    isStr(v.quantize) && isStr(v.calibrationMethod) && (v.limit === null || isNum(v.limit)) && isNum(v.seed) &&
    (v.workers === undefined || v.workers === 'auto' || isNum(v.workers)) &&
    (v.augment === undefined || v.augment === 'none' || v.augment === 'shift' || v.augment === 'shift-flip') &&
    (v.augmentViews === undefined || isNum(v.augmentViews))
  );
}

/** Parses a stored draft; null when absent or malformed. Steps that need a plan fall back to 'goal' without one. */
export function parseDraft(raw: string | null): WizardDraft | null {
  if (!raw) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObj(v)) return null;
  const goal = validGoal(v.goal);
  if (!goal || !WIZARD_STEPS.includes(v.step as WizardStep) || !isStr(v.dataPath)) return null;
  // Drafts saved before the workers field existed get the default.
  // Drafts saved before a setting existed get its default.
  const advanced = validAdvanced(v.advanced) ? ({ workers: 'auto', augment: DEFAULTS.augment, augmentViews: DEFAULTS.augmentViews, ...(v.advanced as object) } as Advanced) : null;
  const plan = validAdvanced(v.plan) && isObj(v.plan) && Array.isArray(v.plan.explanation) ? (v.plan as unknown as Plan) : null;
  let step = v.step as WizardStep;
  if ((step === 'plan' || step === 'review') && (!plan || !advanced)) step = 'goal';
  return {
    teacher: isStr(v.teacher) ? v.teacher : null,
    step,
    dataPath: v.dataPath,
    goal,
    plan: advanced ? plan : null,
    advanced: plan ? advanced : null,
    quick: typeof v.quick === 'boolean' ? v.quick : true,
    name: isStr(v.name) ? v.name : '',
    savedAt: isNum(v.savedAt) ? v.savedAt : 0,
  };
}

/** The stored draft for this teacher, or null (none, malformed, or made for another teacher). */
export function loadDraft(storage: DraftStorage | null | undefined, teacher: string | null): WizardDraft | null {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(DRAFT_KEY) ?? null;
  } catch {
    return null;
  }
  const d = parseDraft(raw);
  if (!d) return null;
  if (d.teacher !== teacher) return null;
  return d;
}

/** Saves the draft (a snapshot: reactive proxies are copied to plain data). Storage errors are ignored. */
export function saveDraft(storage: DraftStorage | null | undefined, draft: Omit<WizardDraft, 'savedAt'>, now = Date.now()): void {
  try {
    storage?.setItem(DRAFT_KEY, JSON.stringify({ ...draft, savedAt: now }));
  } catch {
    // Full or unavailable storage: the draft just won't survive a reload.
  }
}

export function clearDraft(storage: DraftStorage | null | undefined): void {
  try {
    storage?.removeItem(DRAFT_KEY);
  } catch {
    // ignore
  }
}

/** A draft worth keeping: the user has typed or chosen something beyond the defaults. */
export function isMeaningful(d: Pick<WizardDraft, 'step' | 'dataPath' | 'name'>): boolean {
  return d.step !== 'data' || d.dataPath.trim() !== '' || d.name.trim() !== '';
}
