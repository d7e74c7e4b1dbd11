import { Type } from '@sinclair/typebox';
import type { ActivationName } from '../types.js';
import { ACTIVATIONS, Enum, withDefault } from '../schema-parts.js';
import { glorotUniform, needsFeatureMap, transposedOutput, type HeadLayerEntry, lastDim } from './entry.js';
import { kernelSizeOption, squareKernel } from './kernel-size.js';
import { countOrClasses } from './output-count.js';

export interface Conv2dTransposeSpec {
  type: 'conv2dTranspose';
  filters: number | 'classes';
  kernelSize: [number, number];
  strides: number;
  padding: 'same' | 'valid';
  activation: ActivationName;
  useBias: boolean;
}

const description =
  "A transposed convolution (Keras' Conv2DTranspose): upsamples the feature map by `strides`, e.g. a segmentation decoder's last layer with `filters: classes`.";

const options = Type.Object(
  {
    filters: countOrClasses('Output channels', 4096),
    kernelSize: kernelSizeOption,
    strides: Type.Optional(
      withDefault(1, Type.Integer({ description: 'Upsampling factor (step between applications).', minimum: 1 })),
    ),
    padding: Type.Optional(
      Enum(['same', 'valid'], {
        description: 'same: the map grows by exactly `strides`. valid (as in Keras): also by kernelSize − strides.',
        default: 'valid',
      }),
    ),
    activation: Type.Optional(Enum(ACTIVATIONS, { description: 'Activation function.', default: 'linear' })),
    useBias: Type.Optional(Type.Boolean({ description: 'Whether the layer adds a bias vector.', default: true })),
  },
  { description, additionalProperties: false },
);

export const conv2dTranspose = {
  options,
  description,
  resolve: (o) => ({
    type: 'conv2dTranspose',
    filters: o.filters,
    kernelSize: squareKernel(o.kernelSize!),
    strides: o.strides!,
    padding: o.padding!,
    activation: o.activation!,
    useBias: o.useBias!,
  }),
  classesOption: 'filters',
  outputShape: (layer, input, context) =>
    needsFeatureMap(layer.type, input, context) ?? [
      transposedOutput(input[0]!, layer.kernelSize[0], layer.strides, layer.padding),
      transposedOutput(input[1]!, layer.kernelSize[1], layer.strides, layer.padding),
      layer.filters === 'classes' ? null : layer.filters,
    ],
  paramCount: (layer, input) =>
    layer.kernelSize[0] * layer.kernelSize[1] * lastDim(input)! * layer.filters + (layer.useBias ? layer.filters : 0),
  keras: (layer, { name, nextSeed }) => [
    {
      className: 'Conv2DTranspose',
      config: {
        name,
        filters: layer.filters,
        kernelSize: layer.kernelSize,
        strides: layer.strides,
        padding: layer.padding,
        activation: layer.activation,
        useBias: layer.useBias,
        kernelInitializer: glorotUniform(nextSeed()),
      },
    },
  ],
} satisfies HeadLayerEntry<Conv2dTransposeSpec, typeof options>;
