// First meaningful render: the first screen has its data on screen. Read by the e2e test.
let marked = false;
export function markInteractive(): void {
  if (marked) return;
  marked = true;
  requestAnimationFrame(() => performance.mark('distillery:interactive'));
}
