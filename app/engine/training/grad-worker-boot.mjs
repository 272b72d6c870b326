// Development entry of the gradient worker thread: Node 20 does not apply the parent's
// `--import tsx` to worker threads, so register tsx here, then load the TypeScript entry.
// (The built app runs the bundled dist/main/grad-worker.js instead.)
import { register } from 'tsx/esm/api';

register();
await import('./grad-worker.ts');
