// "The environment" stored with every benchmark result: ONNX Runtime version and backends,
// CPU model and instruction-set flags, cores, memory, OS.
import { distilleryVersion } from '../../version.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { supportedBackends } from './providers.js';

export interface CpuFlags {
  sse4_2: boolean;
  avx: boolean;
  avx2: boolean;
  fma: boolean;
  f16c: boolean;
  /** AVX-512 Foundation. */
  avx512: boolean;
  /** AVX-512 VNNI or AVX-VNNI: fast int8 dot products (matters for U8S8 quantization). */
  vnni: boolean;
  avx512_bf16: boolean;
  avx512_fp16: boolean;
  amx: boolean;
  /** ARM NEON / ASIMD. */
  neon: boolean;
  /** ARM int8 dot product (asimddp). */
  dotprod: boolean;
}

export interface RuntimeInfo {
  distillery: { version: string };
  onnxruntime: { version: string; backends: Array<{ name: string; bundled: boolean }> };
  node: string;
  cpu: {
    model: string;
    /** Logical processors. */
    logicalCores: number;
    /** Physical cores when the OS tells (Linux /proc/cpuinfo), else logical. */
    physicalCores: number;
    /** What this process may use (os.availableParallelism()). */
    availableParallelism: number;
    /** Known flags; undefined fields were not readable on this OS. */
    flags: Partial<CpuFlags>;
    /** Where the flags came from. */
    flagsSource: '/proc/cpuinfo' | 'none';
  };
  memoryBytes: number;
  os: { platform: NodeJS.Platform; release: string; arch: string; name: string };
}

function ortVersion(): string {
  const v = (ort.env.versions as Record<string, string | undefined> | undefined)?.node;
  if (v) return v;
  try {
    const require = createRequire(import.meta.url);
    return (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Parse the first processor block of a Linux /proc/cpuinfo. Exported for tests. */
export function parseCpuinfo(text: string): { model?: string; flags?: Partial<CpuFlags>; physicalCores?: number } {
  const lines = text.split('\n');
  const field = (name: string): string | undefined => {
    const l = lines.find((x) => x.split(':')[0]?.trim() === name);
    return l === undefined ? undefined : l.slice(l.indexOf(':') + 1).trim();
  };
  const model = field('model name') ?? field('Model') ?? field('cpu model') ?? field('Hardware');
  const raw = field('flags') ?? field('Features');
  let flags: Partial<CpuFlags> | undefined;
  if (raw !== undefined) {
    const set = new Set(raw.split(/\s+/));
    const has = (f: string): boolean => set.has(f);
    flags = {
      sse4_2: has('sse4_2'),
      avx: has('avx'),
      avx2: has('avx2'),
      fma: has('fma'),
      f16c: has('f16c'),
      avx512: has('avx512f'),
      vnni: has('avx512_vnni') || has('avx_vnni'),
      avx512_bf16: has('avx512_bf16'),
      avx512_fp16: has('avx512_fp16'),
      amx: has('amx_tile'),
      neon: has('neon') || has('asimd'),
      dotprod: has('asimddp'),
    };
  }
  const cores = new Set<string>();
  let phys = '0';
  for (const l of lines) {
    const [k, v] = l.split(':').map((s) => s.trim());
    if (k === 'physical id') phys = v ?? '0';
    if (k === 'core id') cores.add(`${phys}/${v ?? ''}`);
  }
  const out: { model?: string; flags?: Partial<CpuFlags>; physicalCores?: number } = {};
  if (model !== undefined) out.model = model;
  if (flags !== undefined) out.flags = flags;
  if (cores.size > 0) out.physicalCores = cores.size;
  return out;
}

function osName(): string {
  if (process.platform === 'linux') {
    try {
      const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
      if (m?.[1]) return m[1];
    } catch {
      /* fall through */
    }
  }
  return `${os.type()} ${os.release()}`;
}

let cached: RuntimeInfo | undefined;

/** The environment of this process (computed once). */
export function runtimeInfo(): RuntimeInfo {
  if (cached) return cached;
  const cpus = os.cpus();
  let parsed: ReturnType<typeof parseCpuinfo> = {};
  let flagsSource: RuntimeInfo['cpu']['flagsSource'] = 'none';
  if (process.platform === 'linux') {
    try {
      parsed = parseCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
      if (parsed.flags) flagsSource = '/proc/cpuinfo';
    } catch {
      /* not readable: model from os.cpus() below */
    }
  }
  const logical = cpus.length || os.availableParallelism();
  cached = {
    distillery: { version: distilleryVersion() },
    onnxruntime: { version: ortVersion(), backends: supportedBackends() },
    node: process.versions.node,
    cpu: {
      model: (parsed.model ?? cpus[0]?.model ?? 'unknown').trim(),
      logicalCores: logical,
      physicalCores: parsed.physicalCores ?? logical,
      availableParallelism: os.availableParallelism(),
      flags: parsed.flags ?? {},
      flagsSource,
    },
    memoryBytes: os.totalmem(),
    os: { platform: process.platform, release: os.release(), arch: process.arch, name: osName() },
  };
  return cached;
}
