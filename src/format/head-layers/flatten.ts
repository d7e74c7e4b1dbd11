import { noOptions } from '../schema-parts.js';
import { product, type HeadLayerEntry } from './entry.js';
import { reduceFeatureMap } from './reduce-feature-map.js';

const description = 'Flattens [h, w, c] to [h·w·c].';

export const flatten = {
  options: noOptions(description),
  description,
  resolve: () => ({ type: 'flatten' }),
  outputShape: (layer, input, context) => reduceFeatureMap(layer.type, input, context) ?? [product(input)],
  vectorOrigin: 'here',
  paramCount: () => 0,
  keras: (_layer, { name }) => [{ className: 'Flatten', config: { name } }],
} satisfies HeadLayerEntry<{ type: 'flatten' }>;
