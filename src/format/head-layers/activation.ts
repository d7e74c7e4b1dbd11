import { Type } from '@sinclair/typebox';
import type { ActivationName } from '../types.js';
import { ACTIVATIONS, Enum } from '../schema-parts.js';
import type { HeadLayerEntry } from './entry.js';

export interface ActivationSpec {
  type: 'activation';
  activation: ActivationName;
}

const description = 'An activation on its own.';

const options = Type.Object(
  { activation: Enum(ACTIVATIONS, { description: 'Activation function.' }) },
  { description, additionalProperties: false },
);

export const activation = {
  options,
  description,
  resolve: (o) => ({ type: 'activation', activation: o.activation }),
  outputShape: (_layer, input) => [...input],
  paramCount: () => 0,
  keras: (layer, { name }) => [{ className: 'Activation', config: { name, activation: layer.activation } }],
} satisfies HeadLayerEntry<ActivationSpec, typeof options>;
