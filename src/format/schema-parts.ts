/**
 * Pieces of the file format's declaration shared by schema.ts and the head
 * layer entries (src/format/head-layers/), which declare their own options:
 * in one module so that neither imports the other.
 */
import { Kind, Type, TypeRegistry, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';

/** A value from a fixed list, emitted as JSON Schema `enum` (ajv then names the allowed values). */
export function Enum<const T extends readonly (string | number)[]>(
  values: T,
  options: { description?: string; default?: T[number] } = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ [Kind]: 'Enum', enum: values, ...options });
}
// So that TypeBox's own checks (inside unions, when filling defaults) understand `Enum`.
if (!TypeRegistry.Has('Enum'))
  TypeRegistry.Set('Enum', (schema: { enum: unknown[] }, value) => schema.enum.includes(value));

/** `schema` with a default that holds whatever else the file says, also stated in its description. */
export function withDefault<T extends TSchema>(value: Static<T>, schema: T): T {
  const shown = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return {
    ...schema,
    default: value,
    description: `${schema.description ?? ''}${schema.description ? ' ' : ''}Default: ${shown}.`,
  };
}

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
