import { describe, expect, it } from 'vitest';
import { checkAgainstModelInput } from '../../app/engine/data/index.js';

const gray = { sampleShape: [1, 28, 28] };
const rgb = { sampleShape: [3, 32, 32] };
const tabular = { sampleShape: [784] };

describe('checkAgainstModelInput', () => {
  it('accepts a matching NCHW input as is', () => {
    const fit = checkAgainstModelInput(gray, ['N', 1, 28, 28]);
    expect(fit.reshape).toBe('none');
    expect(fit.modelSampleShape).toEqual([1, 28, 28]);
    expect(fit.fixedBatchSize).toBeNull();
  });

  it('flattens images for an [N, 784] model and reports a fixed batch size', () => {
    const fit = checkAgainstModelInput(gray, [1, 784]);
    expect(fit).toMatchObject({ reshape: 'flatten', modelSampleShape: [784], fixedBatchSize: 1 });
    expect(checkAgainstModelInput(gray, [null, 'features'])).toMatchObject({ reshape: 'flatten', modelSampleShape: [784] });
  });

  it('reshapes flat samples into an image input', () => {
    expect(checkAgainstModelInput(tabular, ['batch', 1, 28, 28])).toMatchObject({ reshape: 'reshape', modelSampleShape: [1, 28, 28] });
  });

  it('fills symbolic spatial dims from the data', () => {
    expect(checkAgainstModelInput(rgb, ['N', 3, 'H', 'W'])).toMatchObject({ reshape: 'none', modelSampleShape: [3, 32, 32] });
  });

  it('names channel and size mismatches', () => {
    expect(() => checkAgainstModelInput(gray, ['N', 3, 28, 28])).toThrow(/1 channel\(s\), the model wants 3/);
    expect(() => checkAgainstModelInput(gray, ['N', 3, 'H', 'W'])).toThrow(/1 channel\(s\), the model wants 3/);
    expect(() => checkAgainstModelInput(gray, ['N', 1000])).toThrow(/wants 1000 values per sample/);
    expect(() => checkAgainstModelInput(rgb, ['N', 32, 32, 3])).toThrow(/channels-last/);
    expect(() => checkAgainstModelInput(gray, ['N'])).toThrow(/batch dimension followed by/);
    expect(() => checkAgainstModelInput(gray, ['N', 1, 28, 28], { elementType: 'uint8', inputName: 'x' })).toThrow(/model input 'x' takes uint8/);
  });
});
