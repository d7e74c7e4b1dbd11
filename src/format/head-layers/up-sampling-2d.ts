import { Type } from '@sinclair/typebox';
import { Enum, withDefault } from '../schema-parts.js';
import { needsFeatureMap, type HeadLayerEntry } from './entry.js';
import { squareKernel } from './kernel-size.js';

export interface UpSampling2dSpec {
  type: 'upSampling2d';
  size: [number, number];
  interpolation: 'nearest' | 'bilinear';
}

const description = 'Repeats (nearest) or interpolates (bilinear) the feature map to a larger size; no weights.';

const options = Type.Object(
  {
    size: Type.Optional(
      withDefault(
        2,
        Type.Union(
          [Type.Integer({ minimum: 1 }), Type.Array(Type.Integer({ minimum: 1 }), { minItems: 2, maxItems: 2 })],
          { description: 'Upsampling factor for height and width: one number or [h, w].' },
        ),
      ),
    ),
    interpolation: Type.Optional(
      Enum(['nearest', 'bilinear'], { description: 'How new pixels are filled.', default: 'nearest' }),
    ),
  },
  { description, additionalProperties: false },
);

export const upSampling2d = {
  options,
  description,
  resolve: (o) => ({ type: 'upSampling2d', size: squareKernel(o.size!), interpolation: o.interpolation! }),
  outputShape: (layer, input, context) =>
    needsFeatureMap(layer.type, input, context) ?? [
      input[0] === null ? null : input[0]! * layer.size[0],
      input[1] === null ? null : input[1]! * layer.size[1],
      input[2]!,
    ],
  paramCount: () => 0,
  keras: (layer, { name }) => [
    { className: 'UpSampling2D', config: { name, size: layer.size, interpolation: layer.interpolation } },
  ],
} satisfies HeadLayerEntry<UpSampling2dSpec, typeof options>;
