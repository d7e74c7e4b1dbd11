import { Type } from '@sinclair/typebox';
import type { ActivationName, RegularizerSpec } from '../types.js';
import { ACTIVATIONS, Enum, regularizer, withDefault } from '../schema-parts.js';
import {
  glorotUniform,
  lastDim,
  needsFeatureMap,
  regularizerConfig,
  windowOutput,
  type HeadLayerEntry,
} from './entry.js';
import { kernelSizeOption, squareKernel } from './kernel-size.js';

export interface Conv2dSpec {
  type: 'conv2d';
  filters: number;
  kernelSize: [number, number];
  strides: number;
  padding: 'same' | 'valid';
  activation: ActivationName;
  kernelRegularizer?: RegularizerSpec;
}

const description =
  'A 2-D convolution over the feature map (or image, with base: none). Defaults are those of Keras and tfjs-layers, so a translated recipe builds the same network.';

const options = Type.Object(
  {
    filters: Type.Integer({ description: 'Output channels.', minimum: 1, maximum: 4096 }),
    kernelSize: kernelSizeOption,
    strides: Type.Optional(withDefault(1, Type.Integer({ description: 'Step between applications.', minimum: 1 }))),
    padding: Type.Optional(
      Enum(['same', 'valid'], {
        description:
          'valid (as in Keras): no padding, the map shrinks by kernelSize − 1. same: keep the size (at stride 1).',
        default: 'valid',
      }),
    ),
    activation: Type.Optional(
      Enum(ACTIVATIONS, {
        description:
          "Activation function; linear (none) when omitted, as in Keras: write relu for Conv2D(..., activation='relu').",
        default: 'linear',
      }),
    ),
    kernelRegularizer: Type.Optional(regularizer('Penalty on the kernel weights.')),
  },
  { description, additionalProperties: false },
);

export const conv2d = {
  options,
  description,
  resolve: (o) => ({
    type: 'conv2d',
    filters: o.filters,
    kernelSize: squareKernel(o.kernelSize!),
    strides: o.strides!,
    padding: o.padding!,
    activation: o.activation!,
    ...(o.kernelRegularizer ? { kernelRegularizer: o.kernelRegularizer } : {}),
  }),
  outputShape: (layer, input, context) =>
    needsFeatureMap(layer.type, input, context) ?? [
      windowOutput(input[0]!, layer.kernelSize[0], layer.strides, layer.padding),
      windowOutput(input[1]!, layer.kernelSize[1], layer.strides, layer.padding),
      layer.filters,
    ],
  paramCount: (layer, input) =>
    layer.kernelSize[0] * layer.kernelSize[1] * lastDim(input)! * layer.filters + layer.filters,
  keras: (layer, { name, nextSeed }) => [
    {
      className: 'Conv2D',
      config: {
        name,
        filters: layer.filters,
        kernelSize: layer.kernelSize,
        strides: layer.strides,
        padding: layer.padding,
        activation: layer.activation,
        kernelInitializer: glorotUniform(nextSeed()),
        ...regularizerConfig('kernelRegularizer', layer.kernelRegularizer),
      },
    },
  ],
} satisfies HeadLayerEntry<Conv2dSpec, typeof options>;
