// Option parsers for commander: each throws a message that names the bad value.
import { InvalidArgumentError } from 'commander';
import { DEVICES } from '../engine/runtime/providers.js';

export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`'${value}' is not a number.`);
  return n;
}

export function parseInteger(value: string): number {
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`'${value}' is not a whole number.`);
  return n;
}

export function parseNormalize(value: string): { mean: number; std: number } {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n)) || !(parts[1]! > 0)) {
    throw new InvalidArgumentError(`'${value}' should be MEAN,STD with STD > 0 (e.g. 0.286,0.353).`);
  }
  return { mean: parts[0]!, std: parts[1]! };
}

export function parseDevice(value: string): string {
  const ok = ['auto', ...DEVICES];
  if (!ok.includes(value)) throw new InvalidArgumentError(`'${value}' is not a device; use one of ${ok.join(', ')}.`);
  return value;
}
