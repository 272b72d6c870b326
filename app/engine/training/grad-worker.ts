// One data-parallel training worker thread: a 1-thread ONNX Runtime session of the gradient
// graph (buildGradStep). Each message is one slice of a batch with the current weights; the
// reply is that slice's gradients and loss shares (buffers transferred, not copied).
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { createSession } from '../runtime/index.js';
import type { GradRequest, GradReply, GradWorkerData } from './grad-workers.js';

const port = parentPort!;
const init = workerData as GradWorkerData;

const ready = createSession(init.model, { device: 'cpu', threads: 1 });
ready.then(
  () => port.postMessage({ kind: 'ready' } satisfies GradReply),
  (err: unknown) => port.postMessage({ kind: 'error', message: String((err as Error)?.message ?? err) } satisfies GradReply),
);

port.on('message', (req: GradRequest) => {
  void (async () => {
    try {
      const { session } = await ready;
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, { data, dims }] of Object.entries(req.feeds)) feeds[name] = new ort.Tensor('float32', data, dims);
      const out = await session.run(feeds);
      const outputs: Record<string, Float32Array> = {};
      for (const name of init.outputs) outputs[name] = out[name]!.data as Float32Array;
      port.postMessage({ kind: 'result', id: req.id, outputs } satisfies GradReply, Object.values(outputs).map((a) => a.buffer as ArrayBuffer));
    } catch (err) {
      port.postMessage({ kind: 'error', id: req.id, message: String((err as Error)?.message ?? err) } satisfies GradReply);
    }
  })();
});
