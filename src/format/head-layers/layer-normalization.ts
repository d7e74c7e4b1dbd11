import { Type } from '@sinclair/typebox';
import { withDefault } from '../schema-parts.js';
import { lastDim, type HeadLayerEntry } from './entry.js';

export interface LayerNormalizationSpec {
  type: 'layerNormalization';
  epsilon: number;
}

const description =
  "Normalises each example's features over the last axis (no running statistics, so it behaves the same in training and inference, at any batch size); a scale and an offset per feature train with the head.";

const options = Type.Object(
  {
    epsilon: Type.Optional(
      withDefault(
        0.001,
        Type.Number({ description: 'Added to the variance, against division by zero.', exclusiveMinimum: 0 }),
      ),
    ),
  },
  { description, additionalProperties: false },
);

export const layerNormalization = {
  options,
  description,
  resolve: (o) => ({ type: 'layerNormalization', epsilon: o.epsilon! }),
  outputShape: (_layer, input) => [...input],
  // gamma and beta, one of each per feature of the last axis.
  paramCount: (_layer, input) => 2 * lastDim(input)!,
  keras: (layer, { name }) => [{ className: 'LayerNormalization', config: { name, axis: -1, epsilon: layer.epsilon } }],
} satisfies HeadLayerEntry<LayerNormalizationSpec, typeof options>;
