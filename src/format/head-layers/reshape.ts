import { Type } from '@sinclair/typebox';
import type { HeadLayerEntry } from './entry.js';

export interface ReshapeSpec {
  type: 'reshape';
  targetShape: number[];
}

const description = 'Reshapes each example, e.g. [7, 7, 16] or [784].';

const options = Type.Object(
  {
    targetShape: Type.Array(Type.Integer({ minimum: 1 }), {
      description: 'The new shape without the batch axis.',
      minItems: 1,
    }),
  },
  { description, additionalProperties: false },
);

export const reshape = {
  options,
  description,
  resolve: (o) => ({ type: 'reshape', targetShape: o.targetShape }),
  outputShape: (layer) => [...layer.targetShape],
  vectorOrigin: 'none',
  paramCount: () => 0,
  keras: (layer, { name }) => [{ className: 'Reshape', config: { name, targetShape: layer.targetShape } }],
} satisfies HeadLayerEntry<ReshapeSpec, typeof options>;
