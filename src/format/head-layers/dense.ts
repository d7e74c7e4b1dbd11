import { Type } from '@sinclair/typebox';
import type { ActivationName, RegularizerSpec } from '../types.js';
import { ACTIVATIONS, Enum, regularizer } from '../schema-parts.js';
import { glorotUniform, lastDim, regularizerConfig, type HeadLayerEntry } from './entry.js';

export interface DenseSpec {
  type: 'dense';
  units: number | 'classes';
  activation: ActivationName;
  useBias: boolean;
  kernelRegularizer?: RegularizerSpec;
}

const description = 'A fully connected layer; defaults as in Keras (linear, with a bias).';

const options = Type.Object(
  {
    units: Type.Unsafe<number | 'classes'>({
      description: 'Output size: a positive integer, or `classes` for the number of classes.',
      type: ['integer', 'string'],
      minimum: 1,
      maximum: 65536,
      pattern: '^classes$',
    }),
    activation: Type.Optional(
      Enum(ACTIVATIONS, {
        description: 'Activation function. The last layer takes softmax (probabilities) or linear (logits).',
        default: 'linear',
      }),
    ),
    useBias: Type.Optional(Type.Boolean({ description: 'Whether the layer adds a bias vector.', default: true })),
    kernelRegularizer: Type.Optional(regularizer("Penalty on the layer's kernel weights, e.g. { l2: 0.0001 }.")),
  },
  { description, additionalProperties: false },
);

export const dense = {
  options,
  description,
  resolve: (o) => ({
    type: 'dense',
    units: o.units,
    activation: o.activation!,
    useBias: o.useBias!,
    ...(o.kernelRegularizer ? { kernelRegularizer: o.kernelRegularizer } : {}),
  }),
  classesOption: 'units',
  outputShape: (layer, input) =>
    input.length === 3
      ? {
          message:
            "`dense` is applied to the base's feature map [height, width, channels] before it is pooled or flattened",
          hint: 'add `- globalAveragePooling2d: {}` (or `- flatten: {}`) before it',
        }
      : [...input.slice(0, -1), layer.units === 'classes' ? null : layer.units],
  paramCount: (layer, input) => lastDim(input)! * layer.units + (layer.useBias ? layer.units : 0),
  keras: (layer, { name, nextSeed }) => [
    {
      className: 'Dense',
      config: {
        name,
        units: layer.units,
        activation: layer.activation,
        useBias: layer.useBias,
        kernelInitializer: glorotUniform(nextSeed()),
        biasInitializer: 'zeros',
        ...regularizerConfig('kernelRegularizer', layer.kernelRegularizer),
      },
    },
  ],
} satisfies HeadLayerEntry<DenseSpec, typeof options>;
