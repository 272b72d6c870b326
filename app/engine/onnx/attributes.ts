// Reading and writing node attributes without caring about bigint or byte strings.
import type { Attribute, Node, Tensor } from './ir.js';
import { clampBigint } from './tensor.js';

const utf8 = new TextDecoder();
const utf8Encode = new TextEncoder();

export function findAttr(node: Node, name: string): Attribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

export function attrInt(node: Node, name: string, fallback: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, fallback?: number): number | undefined {
  const a = findAttr(node, name);
  if (!a) return fallback;
  if (a.type !== 'int') throw new Error(`${node.opType} '${node.name}': attribute '${name}' is ${a.type}, expected int`);
  return clampBigint(a.value);
}

export function attrInts(node: Node, name: string, fallback: number[]): number[];
export function attrInts(node: Node, name: string): number[] | undefined;
export function attrInts(node: Node, name: string, fallback?: number[]): number[] | undefined {
  const a = findAttr(node, name);
  if (!a) return fallback;
  if (a.type !== 'ints') throw new Error(`${node.opType} '${node.name}': attribute '${name}' is ${a.type}, expected ints`);
  return a.value.map(clampBigint);
}

export function attrFloat(node: Node, name: string, fallback: number): number;
export function attrFloat(node: Node, name: string): number | undefined;
export function attrFloat(node: Node, name: string, fallback?: number): number | undefined {
  const a = findAttr(node, name);
  if (!a) return fallback;
  if (a.type !== 'float') throw new Error(`${node.opType} '${node.name}': attribute '${name}' is ${a.type}, expected float`);
  return a.value;
}

export function attrFloats(node: Node, name: string): number[] | undefined {
  const a = findAttr(node, name);
  if (!a) return undefined;
  if (a.type !== 'floats') throw new Error(`${node.opType} '${node.name}': attribute '${name}' is ${a.type}, expected floats`);
  return a.value;
}

export function attrString(node: Node, name: string, fallback: string): string;
export function attrString(node: Node, name: string): string | undefined;
export function attrString(node: Node, name: string, fallback?: string): string | undefined {
  const a = findAttr(node, name);
  if (!a) return fallback;
  if (a.type !== 'string') throw new Error(`${node.opType} '${node.name}': attribute '${name}' is ${a.type}, expected string`);
  return utf8.decode(a.value);
}

export function attrTensor(node: Node, name: string): Tensor | undefined {
  const a = findAttr(node, name);
  if (!a) return undefined;
  if (a.type !== 'tensor') throw new Error(`${node.opType} '${node.name}': attribute '${name}' is ${a.type}, expected tensor`);
  return a.value;
}

/** Shorthand values accepted by the builder; numbers that are integers become 'int'. */
export type AttrValue = number | string | number[] | string[] | Tensor | { float: number } | { floats: number[] };

export function makeAttr(name: string, value: AttrValue): Attribute {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: 'int', value: BigInt(value) } : { name, type: 'float', value };
  }
  if (typeof value === 'string') return { name, type: 'string', value: utf8Encode.encode(value) };
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return { name, type: 'strings', value: (value as string[]).map((s) => utf8Encode.encode(s)) };
    }
    const nums = value as number[];
    if (nums.every((v) => Number.isInteger(v))) return { name, type: 'ints', value: nums.map((v) => BigInt(v)) };
    return { name, type: 'floats', value: nums };
  }
  if ('float' in value) return { name, type: 'float', value: value.float };
  if ('floats' in value) return { name, type: 'floats', value: value.floats };
  return { name, type: 'tensor', value };
}

export function setAttr(node: Node, name: string, value: AttrValue): void {
  const attr = makeAttr(name, value);
  const i = node.attributes.findIndex((a) => a.name === name);
  if (i >= 0) node.attributes[i] = attr;
  else node.attributes.push(attr);
}
