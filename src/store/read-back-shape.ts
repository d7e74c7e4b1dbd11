import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { UserError } from '../diagnostics/user-error.js';
import { readBackIfPresent } from '../platform/read-back.js';

const require = createRequire(import.meta.url);
type Ajv2020Class = InstanceType<typeof Ajv2020Module.default>;

/**
 * The shape of a file tlpipe wrote and reads back (summary.json, plan.json,
 * a metrics row, a cache entry's meta.json), checked against a TypeBox
 * schema before any field is used: valid JSON of the wrong shape (`[]`,
 * `null`, a number where a list was) is damage, said as such, not a
 * TypeError later. The schemas list what the readers use; other fields may
 * be there (older and newer versions add some).
 */

/** The schema as ajv reads it: JSON round trip, as TypeBox's markers are symbols, which ajv need not see. */
export function shapeJson(schema: TSchema): object {
  return JSON.parse(JSON.stringify(schema)) as object;
}

/** A shape's name in the generated validators: a digest of its JSON, so that an edited shape is another name. */
export function shapeKey(schema: TSchema): string {
  return `shape_${createHash('sha256').update(JSON.stringify(schema)).digest('hex').slice(0, 24)}`;
}

/**
 * The ajv that compiles read-back shapes: at build time for the listed ones (read-back-validators-source.ts,
 * `source` on), at run time for any other. Only the first error is reported, so allErrors is off.
 */
export function newReadBackAjv(code: { source?: boolean } = {}): Ajv2020Class {
  // ajv ships CommonJS with the class on `.default`; loaded only when a shape is compiled.
  const Ajv2020 = (require('ajv/dist/2020.js') as typeof Ajv2020Module).default;
  return new Ajv2020({
    allErrors: false,
    strict: false,
    allowUnionTypes: true,
    unevaluated: false,
    dynamicRef: false,
    code: { optimize: false, ...code },
  });
}

/** Where the validators compiled at build time are, beside this module: one CommonJS module per shape, named by its key. */
export const GENERATED_READ_BACK_DIR = 'generated/read-back';

const compiled = new WeakMap<TSchema, ValidateFunction>();
let runTimeAjv: Ajv2020Class | undefined;

/** The shape's validator compiled at build time, or undefined when the shape is not listed in read-back-schemas.ts. */
export function precompiledValidator(schema: TSchema): ValidateFunction | undefined {
  try {
    return require(`./${GENERATED_READ_BACK_DIR}/${shapeKey(schema)}.cjs`) as ValidateFunction;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * The shape's validator: compiled at build time (`npm run schema`) when the shape is listed in read-back-schemas.ts,
 * which spares every command that reads a run back compiling them (~0.35 s) and loading ajv's compiler; any other
 * shape is compiled here, once per process.
 */
function validatorOf(schema: TSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = precompiledValidator(schema) ?? (runTimeAjv ??= newReadBackAjv()).compile(shapeJson(schema));
    compiled.set(schema, validate);
  }
  return validate;
}

/** One violation in a person's words: `/resources/seconds must be number`; `whole` names the value itself (the whole file, a line). */
function said(error: ErrorObject, whole: string): string {
  const at = error.instancePath === '' ? whole : error.instancePath;
  return `${at} ${error.message ?? 'is not as tlpipe writes it'}`;
}

/** Why `value` is not of the schema's shape, or undefined when it is. */
export function shapeProblem(schema: TSchema, value: unknown, whole = 'the whole file'): string | undefined {
  const validate = validatorOf(schema);
  return validate(value) ? undefined : said(validate.errors![0]!, whole);
}

/**
 * `value` as the schema's type, or a UserError naming `where` (a file, or
 * file:line) and what was expected there.
 */
export function checkShape<T extends TSchema>(
  schema: T,
  value: unknown,
  where: string,
  expected: string,
  hint = 'the run folder was damaged or edited by hand; tlpipe will not use it',
): Static<T> {
  const problem = shapeProblem(schema, value);
  if (problem !== undefined) throw new UserError(`${where} is not ${expected}: ${problem}`, [], hint);
  return value as Static<T>;
}

/**
 * A value whose shape its `task` names (`task: 'anomaly'`), else the
 * default's (classification, which has no `task` key): JSON Schema's
 * if/then/else, so a damaged file is told what is wrong with its own
 * shape, not with every shape it might have had.
 */
export function byTask(shapes: Record<string, TSchema>, otherwise: TSchema): TSchema {
  return Object.entries(shapes).reduceRight<TSchema>(
    (rest, [task, shape]) =>
      Type.Unsafe({ if: { properties: { task: { const: task } }, required: ['task'] }, then: shape, else: rest }),
    otherwise,
  );
}

/**
 * A JSON file of the run folder read back: bounded and confined
 * (readBackIfPresent), parsed, and checked against `schema`; undefined when
 * absent. Not JSON, or valid JSON of another shape, is a user error naming
 * the file with `hint`.
 */
export async function readShapedJsonIfPresent(
  dir: string,
  name: string,
  options: { what: string; kind?: 'json' | 'text'; hint: string; schema: TSchema; expected: string },
): Promise<unknown> {
  const bytes = await readBackIfPresent(dir, name, {
    what: options.what,
    kind: options.kind ?? 'text',
    hint: options.hint,
  });
  if (bytes === undefined) return undefined;
  const file = path.join(dir, name);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new UserError(`${file} is not valid JSON`, [], options.hint);
  }
  return checkShape(options.schema, value, file, options.expected, options.hint);
}
