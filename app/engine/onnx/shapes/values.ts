// Constant folding on small tracked tensors (shape arithmetic): element arithmetic and the
// index gymnastics of Gather, Slice, Concat, Transpose and broadcasting on row-major data.
import { DataType } from '../ir.js';
import { isIntType, type Elem } from './common.js';

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function count(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Broadcasts several operands to `out` and applies f element-wise. */
export function broadcastMap(vals: Elem[][], shapes: number[][], out: number[], f: (xs: Elem[]) => Elem): Elem[] {
  const n = count(out);
  const rank = out.length;
  const outStrides = stridesOf(out);
  const inStrides = shapes.map((s) => {
    const st = stridesOf(s);
    // Aligned to the right, broadcast dims get stride 0.
    return out.map((_, i) => {
      const j = i - (rank - s.length);
      return j < 0 || s[j] === 1 ? 0 : st[j]!;
    });
  });
  const res = new Array<Elem>(n);
  for (let k = 0; k < n; k++) {
    const xs: Elem[] = [];
    for (let v = 0; v < vals.length; v++) {
      let off = 0;
      let rem = k;
      for (let i = 0; i < rank; i++) {
        const idx = Math.floor(rem / outStrides[i]!);
        rem -= idx * outStrides[i]!;
        off += idx * inStrides[v]![i]!;
      }
      xs.push(vals[v]![off] ?? null);
    }
    res[k] = f(xs);
  }
  return res;
}

/** Element-wise binary arithmetic on tracked elements (bigint when both are integers). */
export function binElem(op: string, a: Elem, b: Elem, opts: { fmod?: boolean } = {}): Elem {
  // Identities that hold for symbolic dims.
  if (typeof a === 'string' || typeof b === 'string') {
    const one = (x: Elem) => x === 1n || x === 1;
    const zero = (x: Elem) => x === 0n || x === 0;
    const neg = (x: Elem) => (typeof x === 'bigint' && x < 0n) || (typeof x === 'number' && x < 0);
    switch (op) {
      case 'Mul':
        if (one(a)) return b;
        if (one(b)) return a;
        if (zero(a) || zero(b)) return 0n;
        return null;
      case 'Add':
        if (zero(a)) return b;
        if (zero(b)) return a;
        return null;
      case 'Sub':
        if (zero(b)) return a;
        if (a === b) return 0n;
        return null;
      case 'Div':
        if (one(b)) return a;
        if (a === b) return 1n;
        return null;
      case 'Max':
      case 'Min':
        if (a === b) return a;
        // Dims are >= 0, so a negative number is below any symbol.
        if (neg(a)) return op === 'Max' ? b : a;
        if (neg(b)) return op === 'Max' ? a : b;
        return null;
      case 'Equal':
        if (a === b) return 1n;
        if (neg(a) || neg(b)) return 0n;
        return null;
      default:
        return null;
    }
  }
  if (a === null || b === null) {
    if (op === 'Mul' && (a === 0n || b === 0n)) return 0n;
    return null;
  }
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    switch (op) {
      case 'Add':
        return a + b;
      case 'Sub':
        return a - b;
      case 'Mul':
        return a * b;
      case 'Div':
        return b === 0n ? null : a / b;
      case 'Mod': {
        if (b === 0n) return null;
        if (opts.fmod) return a % b;
        const r = a % b;
        return r !== 0n && r < 0n !== b < 0n ? r + b : r;
      }
      case 'Pow':
        return b < 0n ? null : a ** b;
      case 'Max':
        return a > b ? a : b;
      case 'Min':
        return a < b ? a : b;
      case 'Equal':
        return a === b ? 1n : 0n;
      case 'Less':
        return a < b ? 1n : 0n;
      case 'Greater':
        return a > b ? 1n : 0n;
      case 'LessOrEqual':
        return a <= b ? 1n : 0n;
      case 'GreaterOrEqual':
        return a >= b ? 1n : 0n;
      case 'And':
        return a !== 0n && b !== 0n ? 1n : 0n;
      case 'Or':
        return a !== 0n || b !== 0n ? 1n : 0n;
      case 'Xor':
        return (a !== 0n) !== (b !== 0n) ? 1n : 0n;
      default:
        return null;
    }
  }
  const x = Number(a);
  const y = Number(b);
  switch (op) {
    case 'Add':
      return x + y;
    case 'Sub':
      return x - y;
    case 'Mul':
      return x * y;
    case 'Div':
      return x / y;
    case 'Mod':
      return opts.fmod ? x % y : x - y * Math.floor(x / y);
    case 'Pow':
      return x ** y;
    case 'Max':
      return Math.max(x, y);
    case 'Min':
      return Math.min(x, y);
    case 'Equal':
      return x === y ? 1n : 0n;
    case 'Less':
      return x < y ? 1n : 0n;
    case 'Greater':
      return x > y ? 1n : 0n;
    case 'LessOrEqual':
      return x <= y ? 1n : 0n;
    case 'GreaterOrEqual':
      return x >= y ? 1n : 0n;
    default:
      return null;
  }
}

/** Element conversion for Cast. */
export function castElem(e: Elem, to: DataType): Elem {
  if (e === null || typeof e === 'string') return e;
  if (to === DataType.BOOL) return (typeof e === 'bigint' ? e !== 0n : e !== 0) ? 1n : 0n;
  if (isIntType(to)) {
    if (typeof e === 'bigint') return e;
    if (!Number.isFinite(e)) return null;
    return BigInt(Math.trunc(e));
  }
  if (typeof e === 'bigint') return Number(e);
  return e;
}

export function unaryElem(op: string, e: Elem): Elem {
  if (e === null) return null;
  if (typeof e === 'string') return op === 'Identity' || op === 'Abs' ? e : null;
  if (typeof e === 'bigint') {
    switch (op) {
      case 'Identity':
        return e;
      case 'Neg':
        return -e;
      case 'Abs':
        return e < 0n ? -e : e;
      case 'Not':
        return e === 0n ? 1n : 0n;
      case 'Sign':
        return e > 0n ? 1n : e < 0n ? -1n : 0n;
      case 'Floor':
      case 'Ceil':
      case 'Round':
        return e;
      default:
        return null;
    }
  }
  switch (op) {
    case 'Identity':
      return e;
    case 'Neg':
      return -e;
    case 'Abs':
      return Math.abs(e);
    case 'Floor':
      return Math.floor(e);
    case 'Ceil':
      return Math.ceil(e);
    case 'Sqrt':
      return Math.sqrt(e);
    case 'Reciprocal':
      return 1 / e;
    case 'Round': {
      // Round half to even.
      const r = Math.round(e);
      return Math.abs(e % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
    }
    case 'Sign':
      return Math.sign(e);
    default:
      return null;
  }
}

/** Gather along an axis with static shapes. Indices may be negative. */
export function gatherValues(data: Elem[], dshape: number[], idx: Elem[], ishape: number[], axis: number): Elem[] | undefined {
  const outer = count(dshape.slice(0, axis));
  const inner = count(dshape.slice(axis + 1));
  const n = dshape[axis]!;
  const res: Elem[] = [];
  const m = count(ishape);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < m; k++) {
      const iv = idx[k];
      if (typeof iv !== 'bigint') return undefined;
      let i = Number(iv);
      if (i < 0) i += n;
      if (i < 0 || i >= n) return undefined;
      for (let r = 0; r < inner; r++) res.push(data[(o * n + i) * inner + r] ?? null);
    }
  }
  return res;
}

/** Picks elements given per-axis index lists (used by Slice). */
export function pickValues(data: Elem[], shape: number[], perAxis: number[][]): Elem[] {
  const st = stridesOf(shape);
  const res: Elem[] = [];
  const rec = (axis: number, off: number) => {
    if (axis === shape.length) {
      res.push(data[off] ?? null);
      return;
    }
    for (const i of perAxis[axis]!) rec(axis + 1, off + i * st[axis]!);
  };
  rec(0, 0);
  return res;
}

export function concatValues(vals: Elem[][], shapes: number[][], axis: number): Elem[] {
  const outer = count(shapes[0]!.slice(0, axis));
  const res: Elem[] = [];
  for (let o = 0; o < outer; o++) {
    for (let v = 0; v < vals.length; v++) {
      const block = count(shapes[v]!.slice(axis));
      for (let k = 0; k < block; k++) res.push(vals[v]![o * block + k] ?? null);
    }
  }
  return res;
}

export function transposeValues(data: Elem[], shape: number[], perm: number[]): Elem[] {
  const st = stridesOf(shape);
  return pickValuesPermuted(data, perm.map((p) => shape[p]!), perm.map((p) => st[p]!));
}

function pickValuesPermuted(data: Elem[], outShape: number[], inStrides: number[]): Elem[] {
  const res: Elem[] = [];
  const rec = (axis: number, off: number) => {
    if (axis === outShape.length) {
      res.push(data[off] ?? null);
      return;
    }
    for (let i = 0; i < outShape[axis]!; i++) rec(axis + 1, off + i * inStrides[axis]!);
  };
  rec(0, 0);
  return res;
}

export function tileValues(data: Elem[], shape: number[], repeats: number[]): Elem[] {
  const out = shape.map((d, i) => d * repeats[i]!);
  const st = stridesOf(shape);
  const res: Elem[] = [];
  const rec = (axis: number, off: number) => {
    if (axis === out.length) {
      res.push(data[off] ?? null);
      return;
    }
    for (let i = 0; i < out[axis]!; i++) rec(axis + 1, off + (i % shape[axis]!) * st[axis]!);
  };
  rec(0, 0);
  return res;
}
