import { Type } from '@sinclair/typebox';
import { withDefault } from '../schema-parts.js';
import { lastDim, needsFeatureMap, type HeadLayerEntry } from './entry.js';

/** pix2pix's `upsample(filters, size, apply_dropout)`, the decoder block of TensorFlow's segmentation tutorial. */
export interface UpsampleSpec {
  type: 'upsample';
  filters: number;
  size: number;
  applyDropout: boolean;
}

const description =
  "pix2pix's upsample block (TensorFlow's segmentation tutorial): Conv2DTranspose(filters, size, strides 2, same, no bias, weights ~ N(0, 0.02)) → BatchNormalization → Dropout(0.5) when applyDropout → ReLU. Doubles height and width.";

const options = Type.Object(
  {
    filters: Type.Integer({ description: 'Output channels.', minimum: 1, maximum: 4096 }),
    size: Type.Optional(withDefault(3, Type.Integer({ description: 'Kernel height and width.', minimum: 1 }))),
    applyDropout: Type.Optional(
      Type.Boolean({ description: 'Whether a Dropout(0.5) follows the batch norm.', default: false }),
    ),
  },
  { description, additionalProperties: false },
);

export const upsample = {
  options,
  description,
  resolve: (o) => ({ type: 'upsample', filters: o.filters, size: o.size!, applyDropout: o.applyDropout! }),
  outputShape: (layer, input, context) =>
    needsFeatureMap(layer.type, input, context) ?? [
      input[0] === null ? null : input[0]! * 2,
      input[1] === null ? null : input[1]! * 2,
      layer.filters,
    ],
  // The kernel, and batch norm's gamma and beta (its moving statistics do not train).
  paramCount: (layer, input) => layer.size * layer.size * lastDim(input)! * layer.filters + 2 * layer.filters,
  keras: (layer, { name, nextSeed }) => [
    {
      className: 'Conv2DTranspose',
      config: {
        name: `${name}_conv`,
        filters: layer.filters,
        kernelSize: [layer.size, layer.size],
        strides: 2,
        padding: 'same',
        useBias: false,
        kernelInitializer: { className: 'RandomNormal', config: { mean: 0, stddev: 0.02, seed: nextSeed() } },
      },
    },
    { className: 'BatchNormalization', config: { name: `${name}_bn` } },
    ...(layer.applyDropout ? [{ className: 'Dropout', config: { name: `${name}_dropout`, rate: 0.5 } }] : []),
    { className: 'ReLU', config: { name: `${name}_relu` } },
  ],
} satisfies HeadLayerEntry<UpsampleSpec, typeof options>;
