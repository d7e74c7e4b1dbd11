import { noOptions } from '../schema-parts.js';
import { lastDim, type HeadLayerEntry } from './entry.js';
import { reduceFeatureMap } from './reduce-feature-map.js';

const description = 'Takes the maximum of each feature map: [h, w, c] → [c].';

export const globalMaxPooling2d = {
  options: noOptions(description),
  description,
  resolve: () => ({ type: 'globalMaxPooling2d' }),
  outputShape: (layer, input, context) => reduceFeatureMap(layer.type, input, context) ?? [lastDim(input)],
  vectorOrigin: 'here',
  paramCount: () => 0,
  keras: (_layer, { name }) => [{ className: 'GlobalMaxPooling2D', config: { name } }],
} satisfies HeadLayerEntry<{ type: 'globalMaxPooling2d' }>;
