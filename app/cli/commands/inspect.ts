// `distillery inspect MODEL.onnx [--json] [--no-run-check]`
import type { Command } from 'commander';
import { inspectFile, type FileSummary, type ValueSummary } from '../../engine/onnx/inspect.js';
import { ModelFileError } from '../../engine/onnx/io.js';
import { assertValid, type ValidationIssue } from '../../engine/onnx/validate.js';
import { UserError } from '../errors.js';
import { printJson } from '../output.js';

export interface InspectJson extends FileSummary {
  issues: ValidationIssue[];
}

export async function runInspect(file: string, opts: { json?: boolean; runCheck?: boolean }): Promise<InspectJson> {
  let result;
  try {
    result = await inspectFile(file, { runCheck: opts.runCheck !== false });
  } catch (err) {
    if (err instanceof ModelFileError) throw new UserError(err.message);
    throw err;
  }
  let issues: ValidationIssue[];
  try {
    issues = assertValid(result.model, file);
  } catch (err) {
    if (err instanceof ModelFileError) throw new UserError(err.message);
    throw err;
  }
  const report: InspectJson = { ...result.summary, issues };
  if (opts.json) printJson(report);
  else process.stdout.write(formatSummary(report));
  return report;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('Show a model\'s inputs, outputs, opsets, parameters, size, op histogram, FLOPs and unsupported ops')
    .argument('<model>', 'an .onnx file')
    .option('--json', 'print one JSON document')
    .option('--no-run-check', 'do not try to open the model with ONNX Runtime (faster; unsupported ops are not detected)')
    .action(async (model: string, opts: { json?: boolean; runCheck?: boolean }) => {
      await runInspect(model, opts);
    });
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

function fmtShape(s: ValueSummary['shape']): string {
  return s === null ? 'unknown rank' : `[${s.join(', ')}]`;
}

function fmtFlops(f: number): string {
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [v, u] of units) if (f >= v) return `${(f / v).toFixed(2)} ${u}FLOPs`;
  return `${f} FLOPs`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`).join('');
}

export function formatSummary(r: InspectJson): string {
  const out: string[] = [];
  out.push(`Model       ${r.path}\n`);
  out.push(`Size        ${(r.sizeBytes / 1e6).toFixed(2)} MB (${fmtInt(r.sizeBytes)} bytes${r.externalData ? ', with external data' : ''})\n`);
  out.push(`Parameters  ${fmtInt(r.parameters)}\n`);
  out.push(`Compute     ${fmtFlops(r.flops)} per sample${r.flopsUnknownNodes ? ` (${r.flopsUnknownNodes} node(s) with unknown shapes not counted)` : ''}\n`);
  out.push(`IR version  ${r.irVersion}\n`);
  out.push(`Opsets      ${Object.entries(r.opsetImports).map(([d, v]) => `${d} ${v}`).join(', ') || 'none'}\n`);
  if (r.producer.name) out.push(`Producer    ${r.producer.name}${r.producer.version ? ` ${r.producer.version}` : ''}\n`);
  out.push(`Nodes       ${fmtInt(r.nodes)} (${Object.keys(r.ops).length} op types)\n`);
  for (const [label, values] of [['Inputs', r.inputs], ['Outputs', r.outputs]] as const) {
    out.push(`\n${label}:\n`);
    out.push(values.length ? table([['name', 'type', 'shape'], ...values.map((v) => [v.name, v.type, fmtShape(v.shape)])]) : '  (none)\n');
  }
  const ops = Object.entries(r.ops);
  out.push(`\nTop ops:\n`);
  out.push(ops.length ? table(ops.slice(0, 10).map(([op, n]) => [op, fmtInt(n)])) : '  (none)\n');
  if (ops.length > 10) out.push(`  … and ${ops.length - 10} more op types\n`);
  if (!r.runChecked) {
    out.push(`\nONNX Runtime check skipped (--no-run-check).\n`);
  } else if (r.unsupportedOps.length > 0) {
    out.push(`\nONNX Runtime cannot run this model on CPU:\n`);
    for (const u of r.unsupportedOps) out.push(`  - ${u.domain ? `${u.domain}.` : ''}${u.opType}${u.node ? ` (node '${u.node}')` : ''}: ${u.reason}\n`);
  } else if (r.runError) {
    out.push(`\nONNX Runtime cannot open this model: ${r.runError}\n`);
  } else {
    out.push(`\nONNX Runtime (CPU) can run every op in this model.\n`);
  }
  const warnings = r.issues.filter((i) => i.severity === 'warning');
  if (warnings.length) {
    out.push(`\nWarnings:\n`);
    for (const w of warnings) out.push(`  - ${w.message}\n`);
  }
  if (Object.keys(r.metadata).length) {
    out.push(`\nMetadata:\n`);
    out.push(table(Object.entries(r.metadata).map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 77)}...` : v])));
  }
  return out.join('');
}
