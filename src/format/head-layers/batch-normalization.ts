import { noOptions } from '../schema-parts.js';
import { lastDim, type HeadLayerEntry } from './entry.js';

const description = 'Normalises each channel with running statistics; trains with the head.';

export const batchNormalization = {
  options: noOptions(description),
  description,
  resolve: () => ({ type: 'batchNormalization' }),
  outputShape: (_layer, input) => [...input],
  // gamma and beta learn; the moving statistics are weights too, but do not train.
  paramCount: (_layer, input) => 2 * lastDim(input)!,
  keras: (_layer, { name }) => [{ className: 'BatchNormalization', config: { name } }],
} satisfies HeadLayerEntry<{ type: 'batchNormalization' }>;
