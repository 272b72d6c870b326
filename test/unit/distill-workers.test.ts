// The 'auto' rule for data-parallel training threads (chooseWorkers): convolutional students on
// the CPU get one thread per core up to 4; anything that cannot use them gets one session and a
// reason for the run log.
import { describe, expect, it } from 'vitest';
import { buildStudent, parseTemplate } from '../../app/engine/distill/students.js';
import { chooseWorkers } from '../../app/engine/distill/workers.js';

const cnn = buildStudent({ template: parseTemplate('cnn:8,16/32'), sampleShape: [1, 28, 28], classes: 10, seed: 1 });
const mlp = buildStudent({ template: parseTemplate('mlp:128'), sampleShape: [1, 28, 28], classes: 10, seed: 1 });
const base = { request: 'auto' as const, student: cnn, device: undefined, threads: undefined, batchSize: 64, featureMatch: false, cores: 2 };

describe('chooseWorkers', () => {
  it('gives a convolutional student on the CPU one thread per core, up to 4', () => {
    expect(chooseWorkers(base)).toEqual({ workers: 2, reason: '2 worker threads: a convolutional student on 2 CPU threads' });
    expect(chooseWorkers({ ...base, device: 'cpu', cores: 16 }).workers).toBe(4);
    expect(chooseWorkers({ ...base, cores: 16, threads: 3 }).workers).toBe(3);
  });

  it('keeps one session, saying why, where threads would not pay or cannot run', () => {
    expect(chooseWorkers({ ...base, student: mlp })).toEqual({ workers: 1, reason: 'training in one session: the student has no convolution (its steps are too short to split)' });
    expect(chooseWorkers({ ...base, device: 'webgpu' }).reason).toMatch(/device 'webgpu'/);
    expect(chooseWorkers({ ...base, device: 'auto' }).workers).toBe(1);
    expect(chooseWorkers({ ...base, featureMatch: true }).reason).toMatch(/feature matching/);
    expect(chooseWorkers({ ...base, threads: 1 }).reason).toMatch(/one CPU thread/);
    expect(chooseWorkers({ ...base, cores: 1 }).workers).toBe(1);
    expect(chooseWorkers({ ...base, batchSize: 24 }).reason).toMatch(/a batch of 24 is too small to split/);
    expect(chooseWorkers({ ...base, batchSize: 48, cores: 8 }).workers).toBe(3);
  });

  it('passes an explicit count through unchanged', () => {
    expect(chooseWorkers({ ...base, request: 1 })).toEqual({ workers: 1 });
    expect(chooseWorkers({ ...base, request: 3, student: mlp })).toEqual({ workers: 3 });
  });
});
