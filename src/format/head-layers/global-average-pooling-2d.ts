import { noOptions } from '../schema-parts.js';
import { lastDim, type HeadLayerEntry } from './entry.js';
import { reduceFeatureMap } from './reduce-feature-map.js';

const description = 'Averages each feature map to one value: [h, w, c] → [c].';

export const globalAveragePooling2d = {
  options: noOptions(description),
  description,
  resolve: () => ({ type: 'globalAveragePooling2d' }),
  outputShape: (layer, input, context) => reduceFeatureMap(layer.type, input, context) ?? [lastDim(input)],
  vectorOrigin: 'here',
  paramCount: () => 0,
  keras: (_layer, { name }) => [{ className: 'GlobalAveragePooling2D', config: { name } }],
} satisfies HeadLayerEntry<{ type: 'globalAveragePooling2d' }>;
