// Structural checks on a decoded model: things the decoder accepts but a runtime would reject
// (or silently misread). Each issue names the graph, node and value involved.
import { danglingNames, definedNames, GraphError, topologicalOrder } from './graph.js';
import type { Graph, Model, Node } from './ir.js';
import { ModelFileError } from './io.js';

export type IssueCode =
  | 'cycle'
  | 'dangling-value'
  | 'duplicate-output'
  | 'missing-op-type'
  | 'missing-opset'
  | 'ir-version'
  | 'opset-version';

export interface ValidationIssue {
  severity: 'error' | 'warning';
  code: IssueCode;
  message: string;
  /** Graph path, e.g. 'main' or "main/If 'cond'.then_branch". */
  graph: string;
  node?: string;
  value?: string;
}

export const IR_VERSION_RANGE = { min: 3, max: 10 } as const;
export const OPSET_RANGE = { min: 7, max: 21 } as const;

const norm = (domain: string) => (domain === 'ai.onnx' ? '' : domain);
const domainLabel = (domain: string) => (norm(domain) === '' ? 'ai.onnx (default)' : domain);
const nodeLabel = (n: Node) => (n.name ? `${n.opType || '<no op_type>'} node '${n.name}'` : `${n.opType || '<no op_type>'} node producing '${n.outputs[0] ?? '?'}'`);

/** Every check below; an empty list means the model is structurally sound. */
export function validateModel(model: Model): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const top = model.graph.name || 'main';

  if (!Number.isInteger(model.irVersion) || model.irVersion < IR_VERSION_RANGE.min) {
    issues.push({ severity: 'error', code: 'ir-version', graph: top, message: `IR version ${model.irVersion} is older than ${IR_VERSION_RANGE.min}, the oldest supported` });
  } else if (model.irVersion > IR_VERSION_RANGE.max) {
    issues.push({ severity: 'warning', code: 'ir-version', graph: top, message: `IR version ${model.irVersion} is newer than ${IR_VERSION_RANGE.max}, the newest this version of Distillery was tested with` });
  }

  const imported = new Map<string, number>();
  for (const o of model.opsetImports) imported.set(norm(o.domain), o.version);
  const defaultOpset = imported.get('');
  if (defaultOpset !== undefined && (defaultOpset < OPSET_RANGE.min || defaultOpset > OPSET_RANGE.max)) {
    issues.push({
      severity: 'warning', code: 'opset-version', graph: top,
      message: `default-domain opset ${defaultOpset} is outside the tested range ${OPSET_RANGE.min}..${OPSET_RANGE.max}`,
    });
  }

  const localFunctions = new Set(model.functions.map((f) => `${norm(f.domain)}\u0000${f.name}`));
  const missingDomains = new Map<string, Node>();
  const noteDomain = (n: Node) => {
    const d = norm(n.domain);
    if (!imported.has(d) && !missingDomains.has(d)) missingDomains.set(d, n);
  };

  checkGraph(model.graph, top, new Set(), issues, noteDomain);

  for (const fn of model.functions) {
    const fnImports = new Set(fn.opsetImports.map((o) => norm(o.domain)));
    for (const n of fn.nodes) {
      if (!n.opType) {
        issues.push({ severity: 'error', code: 'missing-op-type', graph: `function ${fn.domain}.${fn.name}`, node: n.name, message: `a node in function '${fn.name}' has no op_type` });
      }
      const d = norm(n.domain);
      if (!fnImports.has(d) && !imported.has(d)) {
        issues.push({
          severity: 'error', code: 'missing-opset', graph: `function ${fn.domain}.${fn.name}`, node: n.name,
          message: `function '${fn.name}' uses ${n.opType} from domain ${domainLabel(d)} but neither it nor the model imports that domain`,
        });
      }
    }
  }

  for (const [d, n] of missingDomains) {
    const isFunction = localFunctions.has(`${d}\u0000${n.opType}`);
    issues.push({
      severity: isFunction ? 'warning' : 'error',
      code: 'missing-opset',
      graph: top,
      node: n.name,
      message: `${nodeLabel(n)} uses domain ${domainLabel(d)}, but the model has no opset import for it`,
    });
  }
  return issues;
}

function checkGraph(graph: Graph, path: string, outer: ReadonlySet<string>, issues: ValidationIssue[], noteDomain: (n: Node) => void): void {
  // Nodes without an op type.
  for (const n of graph.nodes) {
    if (!n.opType) {
      issues.push({ severity: 'error', code: 'missing-op-type', graph: path, node: n.name, message: `graph '${path}': node '${n.name || '(unnamed)'}' has no op_type` });
    } else {
      noteDomain(n);
    }
  }

  // Each value is defined once: by a graph input, an initializer, or one node output.
  const definedBy = new Map<string, string>();
  for (const v of graph.inputs) definedBy.set(v.name, 'a graph input');
  for (const t of graph.initializers) if (!definedBy.has(t.name)) definedBy.set(t.name, 'an initializer');
  for (const n of graph.nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      const previous = definedBy.get(o);
      if (previous !== undefined) {
        issues.push({
          severity: 'error', code: 'duplicate-output', graph: path, node: n.name, value: o,
          message: `graph '${path}': ${nodeLabel(n)} writes '${o}', which is already defined by ${previous}`,
        });
      } else {
        definedBy.set(o, nodeLabel(n));
      }
    }
  }

  // Cycles.
  try {
    topologicalOrder(graph, outer);
  } catch (err) {
    if (!(err instanceof GraphError)) throw err;
    issues.push({ severity: 'error', code: 'cycle', graph: path, message: `graph '${path}': ${err.message}` });
  }

  // Reads of values defined nowhere (in this graph or an enclosing one).
  const readers = new Map<string, Node>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i && !readers.has(i)) readers.set(i, n);
  for (const name of danglingNames(graph, outer)) {
    const reader = readers.get(name);
    issues.push({
      severity: 'error', code: 'dangling-value', graph: path, value: name, node: reader?.name,
      message: reader
        ? `graph '${path}': ${nodeLabel(reader)} reads '${name}', which no node, input or initializer defines`
        : `graph '${path}': output '${name}' is not produced by any node, input or initializer`,
    });
  }

  // Subgraphs see every name of this graph and of the enclosing scopes.
  const scope = new Set(outer);
  for (const name of definedNames(graph)) scope.add(name);
  for (const n of graph.nodes) {
    for (const a of n.attributes) {
      const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      subs.forEach((g, i) => {
        const label = `${path}/${n.opType} '${n.name || n.outputs[0] || '?'}'.${a.name}${a.type === 'graphs' ? `[${i}]` : ''}`;
        checkGraph(g, label, scope, issues, noteDomain);
      });
    }
  }
}

/** Throws a ModelFileError naming `file` and the first error (warnings are ignored). */
export function assertValid(model: Model, file: string): ValidationIssue[] {
  const issues = validateModel(model);
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
    throw new ModelFileError(file, `invalid model: ${errors[0]!.message}${more}`);
  }
  return issues;
}
