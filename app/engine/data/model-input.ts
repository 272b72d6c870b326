// Checks that a dataset's samples can feed a model input, and says how to reshape them.
// The first model dimension is always the batch; the rest must hold one sample.
import { DatasetError } from './errors.js';
import { sampleSize } from './split.js';

/** A model input dimension as ONNX reports it: a size, a symbolic name, or unknown. */
export type ModelDim = number | string | null;

export interface InputFit {
  /** 'none': feed as is; 'flatten': feed [N, F]; 'reshape': same values, shape modelSampleShape. */
  reshape: 'none' | 'flatten' | 'reshape';
  /** Shape of one sample as the model takes it (batch dimension excluded). */
  modelSampleShape: number[];
  /** Set when the model's batch dimension is a fixed number. */
  fixedBatchSize: number | null;
  /** One plain sentence for the UI. */
  description: string;
}

const fmt = (shape: readonly ModelDim[]): string => `[${shape.map((d) => (isKnown(d) ? d : d ?? '?')).join(', ')}]`;

function isKnown(d: ModelDim): d is number {
  return typeof d === 'number' && d > 0;
}

export function checkAgainstModelInput(
  dataset: { sampleShape: number[] },
  inputShape: readonly ModelDim[],
  options: { elementType?: string; inputName?: string } = {},
): InputFit {
  const name = options.inputName ? `model input '${options.inputName}'` : 'model input';
  const data = dataset.sampleShape;
  const dataSize = sampleSize(data);
  if (options.elementType !== undefined && !['float32', 'float'].includes(options.elementType)) {
    throw new DatasetError(`${name} takes ${options.elementType}, but datasets are fed as float32`);
  }
  if (inputShape.length < 2) {
    throw new DatasetError(`${name} has shape ${fmt(inputShape)}: expected a batch dimension followed by the sample dimensions`);
  }
  const batch = inputShape[0]!;
  const fixedBatchSize = isKnown(batch) ? batch : null;
  const modelSample = inputShape.slice(1);
  const known = modelSample.every(isKnown);
  const mismatch = (why: string): DatasetError =>
    new DatasetError(`${name} expects samples of shape ${fmt(modelSample)} but the dataset's samples are [${data.join(', ')}] (${dataSize} values): ${why}`);

  if (known) {
    const want = modelSample as number[];
    const wantSize = sampleSize(want);
    if (wantSize !== dataSize) {
      if (data.length === 3 && want.length === 3 && data[1] === want[1] && data[2] === want[2]) {
        throw mismatch(`the dataset has ${data[0]} channel(s), the model wants ${want[0]}`);
      }
      throw mismatch(`the model wants ${wantSize} values per sample`);
    }
    if (want.length === data.length && want.every((d, i) => d === data[i])) {
      return { reshape: 'none', modelSampleShape: want, fixedBatchSize, description: 'Samples fit the model input as they are.' };
    }
    if (want.length === 1) {
      return { reshape: 'flatten', modelSampleShape: want, fixedBatchSize, description: `Each sample is flattened to ${want[0]} values.` };
    }
    // [C,H,W] data against [H,W,C] model: same size, but a plain reshape would scramble pixels.
    if (data.length === 3 && want.length === 3 && data[0]! > 1 && want[2] === data[0] && want[0] === data[1] && want[1] === data[2]) {
      throw mismatch('the model takes channels-last (NHWC) images; Distillery feeds channels-first (NCHW)');
    }
    return {
      reshape: 'reshape',
      modelSampleShape: want,
      fixedBatchSize,
      description: `Each sample is reshaped from [${data.join(', ')}] to [${want.join(', ')}].`,
    };
  }

  // Some sample dimensions are symbolic: take them from the data where the ranks line up.
  if (modelSample.length === data.length) {
    modelSample.forEach((d, i) => {
      if (isKnown(d) && d !== data[i]) {
        throw mismatch(i === 0 && data.length === 3 ? `the dataset has ${data[0]} channel(s), the model wants ${d}` : `dimension ${i + 1} must be ${d}, the data has ${data[i]}`);
      }
    });
    return { reshape: 'none', modelSampleShape: [...data], fixedBatchSize, description: 'Samples fit the model input as they are.' };
  }
  if (modelSample.length === 1) {
    return { reshape: 'flatten', modelSampleShape: [dataSize], fixedBatchSize, description: `Each sample is flattened to ${dataSize} values.` };
  }
  throw mismatch('the ranks differ and the model leaves some dimensions open, so the fit is ambiguous');
}
