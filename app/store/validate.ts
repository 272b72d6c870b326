import { invalid } from './errors.js';
import { EXPERIMENT_ID_RE, PROJECT_ID_RE, SHA256_RE } from './ids.js';

// Small guards for repository inputs. The contract layer validates payloads too; these make
// the store safe on its own (CLI, scripts, tests) and give one clear message per mistake.

// Control characters except tab and newline.
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f]/;

export function text(value: unknown, what: string, max: number, opts: { min?: number; multiline?: boolean } = {}): string {
  if (typeof value !== 'string') throw invalid(`${what} must be a string.`);
  const min = opts.min ?? 1;
  if (value.length < min) throw invalid(min === 1 ? `${what} must not be empty.` : `${what} is too short.`);
  if (value.length > max) throw invalid(`${what} is longer than ${max} characters.`);
  if (!opts.multiline && /[\r\n]/.test(value)) throw invalid(`${what} must be a single line.`);
  if (CONTROL_RE.test(value)) throw invalid(`${what} contains control characters.`);
  return value;
}

export function int(value: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${what} must be an integer between ${min} and ${max}.`);
  }
  return value;
}

export function finite(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${what} must be a finite number.`);
  return value;
}

export function optional<T>(value: T | null | undefined, check: (v: T) => T): T | null {
  return value === undefined || value === null ? null : check(value);
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`${what} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)}).`);
  }
  return value as T;
}

export function experimentId(value: unknown): string {
  if (typeof value !== 'string' || !EXPERIMENT_ID_RE.test(value)) {
    throw invalid(`Not an experiment id: ${JSON.stringify(value)}.`);
  }
  return value;
}

export function projectId(value: unknown): string {
  if (typeof value !== 'string' || !PROJECT_ID_RE.test(value)) throw invalid(`Not a project id: ${JSON.stringify(value)}.`);
  return value;
}

export function sha256(value: unknown): string {
  if (typeof value !== 'string' || !SHA256_RE.test(value)) {
    throw invalid(`Not a sha256 (64 lowercase hex characters): ${JSON.stringify(value)}.`);
  }
  return value;
}

export const TAG_RE = /^[^\s,][^,\u0000-\u001f\u007f]{0,63}$/;
export function tag(value: unknown): string {
  if (typeof value !== 'string') throw invalid('A tag must be a string.');
  const t = value.trim();
  if (!TAG_RE.test(t) || /\s$/.test(t)) {
    throw invalid(`Not a valid tag: ${JSON.stringify(value)} (1-64 characters, no commas or control characters).`);
  }
  return t;
}

/** Artifact roles look like file names or paths-ish labels: 'student.onnx', 'checkpoint/epoch-3'. */
export const ROLE_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,127}$/;
export function role(value: unknown): string {
  if (typeof value !== 'string' || !ROLE_RE.test(value)) {
    throw invalid(`Not a valid artifact role: ${JSON.stringify(value)} (letters, digits, . _ - /; up to 128).`);
  }
  return value;
}

export const MEDIA_TYPE_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,127}$/i;
export function mediaType(value: unknown): string {
  if (typeof value !== 'string' || !MEDIA_TYPE_RE.test(value)) {
    throw invalid(`Not a media type: ${JSON.stringify(value)} (e.g. application/octet-stream).`);
  }
  return value;
}
