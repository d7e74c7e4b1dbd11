import { Type } from '@sinclair/typebox';
import { Enum, withDefault } from '../schema-parts.js';
import { needsFeatureMap, windowOutput, type HeadLayerEntry } from './entry.js';

export interface MaxPooling2dSpec {
  type: 'maxPooling2d';
  poolSize: number;
  strides: number;
  padding: 'same' | 'valid';
}

const description =
  'Takes the maximum over windows of the feature map; defaults as in Keras (2×2, stride = poolSize, valid).';

const options = Type.Object(
  {
    poolSize: Type.Optional(withDefault(2, Type.Integer({ description: 'Window height and width.', minimum: 1 }))),
    strides: Type.Optional(Type.Integer({ description: 'Step between windows. Default: poolSize.', minimum: 1 })),
    padding: Type.Optional(Enum(['same', 'valid'], { description: 'valid or same.', default: 'valid' })),
  },
  { description, additionalProperties: false },
);

export const maxPooling2d = {
  options,
  description,
  resolve: (o) => ({
    type: 'maxPooling2d',
    poolSize: o.poolSize!,
    strides: o.strides ?? o.poolSize!,
    padding: o.padding!,
  }),
  outputShape: (layer, input, context) =>
    needsFeatureMap(layer.type, input, context) ?? [
      windowOutput(input[0]!, layer.poolSize, layer.strides, layer.padding),
      windowOutput(input[1]!, layer.poolSize, layer.strides, layer.padding),
      input[2]!,
    ],
  paramCount: () => 0,
  keras: (layer, { name }) => [
    {
      className: 'MaxPooling2D',
      config: { name, poolSize: layer.poolSize, strides: layer.strides, padding: layer.padding },
    },
  ],
} satisfies HeadLayerEntry<MaxPooling2dSpec, typeof options>;
