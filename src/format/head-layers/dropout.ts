import { Type } from '@sinclair/typebox';
import type { HeadLayerEntry } from './entry.js';

export interface DropoutSpec {
  type: 'dropout';
  rate: number;
}

const description = 'Randomly zeroes a fraction of the inputs during training.';

const options = Type.Object(
  {
    rate: Type.Number({
      description: 'Fraction of inputs dropped, 0 ≤ rate < 1.',
      minimum: 0,
      exclusiveMaximum: 1,
    }),
  },
  { description, additionalProperties: false },
);

export const dropout = {
  options,
  description,
  resolve: (o) => ({ type: 'dropout', rate: o.rate }),
  outputShape: (_layer, input) => [...input],
  paramCount: () => 0,
  // The engine seeds every Dropout's masks from the pipeline's stream (build-models.ts).
  keras: (layer, { name }) => [{ className: 'Dropout', config: { name, rate: layer.rate } }],
} satisfies HeadLayerEntry<DropoutSpec, typeof options>;
