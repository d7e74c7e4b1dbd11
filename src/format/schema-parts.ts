/**
 * Pieces of the head layers' declarations shared by schema.ts and the
 * entries (src/format/head-layers/), which declare their own options; the
 * pieces every part of the format shares are in schema-kit.ts.
 */
import { Type, type TUnsafe } from '@sinclair/typebox';
import { withDefault } from './schema-kit.js';

export { Enum, withDefault } from './schema-kit.js';

export const ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'elu',
  'selu',
  'sigmoid',
  'tanh',
  'softplus',
  'softmax',
  'swish',
] as const;

/** A layer that takes no options: `{}` or nothing. */
export const noOptions = (description: string): TUnsafe<Record<string, never> | null> =>
  Type.Unsafe<Record<string, never> | null>({
    description,
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {},
  });

export const regularizer = (description: string) =>
  Type.Object(
    {
      l1: Type.Optional(withDefault(0, Type.Number({ description: 'L1 factor.', minimum: 0 }))),
      l2: Type.Optional(withDefault(0, Type.Number({ description: 'L2 factor.', minimum: 0 }))),
    },
    {
      description: `${description} Weight penalty added to the loss: l1 · Σ|w| + l2 · Σw².`,
      additionalProperties: false,
    },
  );
