// A process that writes to a history as fast as it can until it is killed: each loop creates an
// experiment (status 'running'), appends 200 metric points in one transaction, and prints the
// experiment id and point count only after the transaction committed.
import { openDatabase } from '../../app/store/index.js';

const store = openDatabase(process.argv[2]!);
let n = 0;
process.stdout.write('ready\n');
for (;;) {
  const exp = store.experiments.create({ kind: 'distill', name: `writer ${n++}`, config: { n } });
  store.experiments.setStatus(exp.id, 'running');
  const points = Array.from({ length: 200 }, (_, i) => ({ series: 'train/loss', step: i, value: Math.random() }));
  store.metrics.append(exp.id, points);
  process.stdout.write(`${exp.id} ${points.length}\n`);
}
