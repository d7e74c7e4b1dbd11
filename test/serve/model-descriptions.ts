import type { ModelDescription } from '../../src/serve/served-answers.js';

/** What a served image classifier says of itself, for the serve layer's unit tests: 8×8 images, pixels / 255. */
export const imageModel = (labels: string[]): ModelDescription => ({
  name: 'flowers',
  modelDir: '/models/flowers',
  task: 'classification',
  labels,
  outputs: 'probabilities',
  preprocessing: {
    kind: 'image',
    inputSize: [8, 8],
    channels: 3,
    grayscaleToRgb: true,
    fit: 'cover',
    scale: [1 / 255, 1 / 255, 1 / 255],
    offset: [0, 0, 0],
    mean: [0, 0, 0],
    std: [1, 1, 1],
    description: 'pixels / 255',
  },
});

/** A served tabular classifier: `columns` standardised with mean 0 and std 1. */
export const tabularModel = (labels: string[], columns: string[]): ModelDescription => ({
  name: 'iris',
  modelDir: '/models/iris',
  task: 'classification',
  labels,
  outputs: 'probabilities',
  preprocessing: {
    kind: 'tabular',
    columns,
    mean: columns.map(() => 0),
    std: columns.map(() => 1),
    description: 'standardised',
  },
});
