import { invalid } from './errors.js';

/** Serialise a JSON column value; refuses what would not round-trip (undefined, functions). */
export function toJson(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw invalid(`${what} is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (text === undefined) throw invalid(`${what} is not JSON-serialisable.`);
  return text;
}

export function toJsonOrNull(value: unknown, what: string): string | null {
  return value === undefined || value === null ? null : toJson(value, what);
}

export function fromJson(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}
