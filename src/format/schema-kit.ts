/**
 * The pieces the pipeline file's schema is declared with (schema.ts and each
 * dataset format's module under dataset-formats/): kept apart so those
 * modules and schema.ts can share them without importing each other.
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

export const describe = <T extends TSchema>(schema: T, description: string): T => ({ ...schema, description });

/** [height, width] in pixels. */
export const imageSize = (description: string): TUnsafe<[number, number]> =>
  Type.Unsafe<[number, number]>({
    description,
    type: 'array',
    prefixItems: [
      { description: 'Height in pixels.', type: 'integer', minimum: 8, maximum: 1024 },
      { description: 'Width in pixels.', type: 'integer', minimum: 8, maximum: 1024 },
    ],
    minItems: 2,
    maxItems: 2,
  });
