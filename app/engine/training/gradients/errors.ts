// The error buildBackward throws when a node on the gradient path has no rule (or a rule cannot
// handle a node's configuration). Lives here so rule files can throw it without an import cycle.
export class UnsupportedGradientError extends Error {
  override name = 'UnsupportedGradientError';
}
