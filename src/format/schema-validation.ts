import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Diagnostic, KeyPath } from '../diagnostics/diagnostic.js';
import { didYouMean } from '../diagnostics/did-you-mean.js';
import type { SourceFile } from './source-file.js';

const require = createRequire(import.meta.url);
let validator: ValidateFunction | undefined;

/**
 * The schema's validator, compiled by `npm run schema` (pipeline-validator-source.ts) rather than here: compiling
 * cost every command that reads a pipeline ~0.15 s, and ajv's compiler ~0.03 s to load. Loaded on first use, as
 * commands that import the loader without validating (runs, compare) skip its ~20 ms. It only checks: the file as
 * written stays as written (resolution fills defaults).
 */
function pipelineValidator(): ValidateFunction {
  return (validator ??= require('./generated/pipeline-validator.cjs') as ValidateFunction);
}

/**
 * Keys users write where a value of another key belongs, with the sentence
 * that says so: `dataset: { csv: … }` means `format: csv`.
 */
const MEANT_AS_VALUE: Readonly<Record<string, { parent: string; hint: string }>> = {
  csv: { parent: 'dataset', hint: 'a dataset names its format as a value: `format: csv` with `file: <the CSV>`' },
  idx: {
    parent: 'dataset',
    hint: 'a dataset names its format as a value: `format: idx` with `train: { images, labels }`',
  },
  mnist: { parent: 'dataset', hint: 'a dataset names its format as a value: `format: mnist`' },
  imageFolder: {
    parent: 'dataset',
    hint: 'a dataset names its format as a value: `format: imageFolder` with `dir: <folder>`',
  },
};

/** Validates `data` and explains each violation at its place in `source`. */
export function validateAgainstSchema(source: SourceFile, data: unknown): Diagnostic[] {
  const validate = pipelineValidator();
  if (validate(data)) return [];
  const errors = pruneErrors(validate.errors ?? []);
  return errors.map((e) => explain(source, e));
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The description of the union whose branch an error was kept from, for a branch that has no description of its own. */
const unionHints = new WeakMap<ErrorObject, string>();

/**
 * A type error at a path makes every other complaint about that path noise;
 * an anyOf failure is one complaint, not one per alternative.
 */
function pruneErrors(errors: ErrorObject[]): ErrorObject[] {
  // An anyOf answered by its one type-matching alternative: keep that alternative's errors, drop the rest.
  for (const anyOf of errors.filter((e) => e.keyword === 'anyOf')) {
    const chosen = matchingAlternativeErrors(anyOf, errors);
    if (!chosen) continue;
    errors = errors.filter(
      (e) => e !== anyOf && (!e.schemaPath.startsWith(`${anyOf.schemaPath}/`) || chosen.includes(e)),
    );
    // The hint is the chosen branch's description; a branch without one falls back to the whole union's.
    const union = describe(anyOf.parentSchema);
    if (union !== undefined)
      for (const e of chosen) if (e.instancePath === anyOf.instancePath && !unionHints.has(e)) unionHints.set(e, union);
  }
  const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath);
  errors = errors.filter((e) => !anyOfPaths.some((p) => e.schemaPath.startsWith(`${p}/`)));
  // Of nested anyOf failures, the innermost says most: `freeze[0]` rather than `freeze`.
  errors = errors.filter(
    (e) =>
      e.keyword !== 'anyOf' ||
      !errors.some((other) => other !== e && other.instancePath.startsWith(`${e.instancePath}/`)),
  );
  const typeErrorPaths = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const seen = new Set<string>();
  return errors.filter((e) => {
    if (e.keyword !== 'type' && typeErrorPaths.has(e.instancePath)) return false;
    const key = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * When the value has the type of exactly one anyOf alternative, that
 * alternative's complaints say more than "not a valid value": for
 * `learningRate: { head: 0.001 }`, "missing required key `base`".
 */
function matchingAlternativeErrors(anyOf: ErrorObject, errors: ErrorObject[]): ErrorObject[] | undefined {
  const inner = errors.filter((e) => e.schemaPath.startsWith(`${anyOf.schemaPath}/`));
  const branchOf = (e: ErrorObject): string => e.schemaPath.slice(anyOf.schemaPath.length + 1).split('/')[0]!;
  // A branch is of the wrong type when it says so, or is an enum none of whose values has the value's type.
  const ofOtherType = (e: ErrorObject): boolean =>
    e.keyword === 'type' ||
    (e.keyword === 'enum' &&
      !(e.params.allowedValues as unknown[]).some(
        (v) => typeof v === typeof e.data && Array.isArray(v) === Array.isArray(e.data),
      ));
  const wrongType = new Set(inner.filter((e) => e.instancePath === anyOf.instancePath && ofOtherType(e)).map(branchOf));
  const branches = new Set(inner.map(branchOf));
  // Errors from behind a $ref carry the referenced schema's path; then not every alternative is seen here.
  if (branches.size !== (anyOf.schema as unknown[]).length) return undefined;
  const typed = [...branches].filter((b) => !wrongType.has(b));
  return typed.length === 1 ? inner.filter((e) => branchOf(e) === typed[0]) : undefined;
}

function describe(schema: unknown): string | undefined {
  return (schema as { description?: string } | undefined)?.description;
}

/** Whether `value` is of JSON Schema type `type`. */
function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  if (type === 'array') return Array.isArray(value);
  if (type === 'null') return value === null;
  if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  return typeof value === type;
}

function typeOfValue(value: unknown): string {
  return value === null ? 'nothing (null)' : Array.isArray(value) ? 'a list' : `${typeof value} ${show(value)}`;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function explain(source: SourceFile, e: ErrorObject): Diagnostic {
  const path: KeyPath = pointerToPath(e.instancePath);
  const hint = describe(e.parentSchema) ?? unionHints.get(e);
  const severity = 'error' as const;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(e.params.additionalProperty);
      const keyPath = [...path, key];
      const known = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      const meant = MEANT_AS_VALUE[key];
      if (meant && path[path.length - 1] === meant.parent)
        return source.at(
          { path: keyPath, key: true },
          { path: keyPath, message: `unknown key \`${key}\``, severity, hint: meant.hint },
        );
      const isHeadLayer = path[0] === 'head' && path.length === 2;
      const message = isHeadLayer ? `unknown head layer type \`${key}\`` : `unknown key \`${key}\``;
      const suggestion = didYouMean(key, known);
      const allowed = known.length > 0 ? `allowed here: ${known.join(', ')}` : 'no keys are allowed here';
      return source.at({ path: keyPath, key: true }, { path: keyPath, message, severity, hint: suggestion ?? allowed });
    }
    case 'required': {
      const key = String(e.params.missingProperty);
      const properties = (e.parentSchema as { properties?: Record<string, unknown> }).properties ?? {};
      return source.at(
        { path },
        { path, message: `missing required key \`${key}\``, severity, hint: describe(properties[key]) },
      );
    }
    case 'enum': {
      const allowed = (e.params.allowedValues as unknown[]).map(String);
      const suggestion = typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined;
      return source.at(
        { path },
        { path, message: `${show(e.data)} is not one of: ${allowed.join(', ')}`, severity, hint: suggestion ?? hint },
      );
    }
    case 'type': {
      const expected = ([] as string[]).concat(e.params.type as string | string[]).join(' or ');
      return source.at({ path }, { path, message: `expected ${expected}, got ${typeOfValue(e.data)}`, severity, hint });
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return source.at(
        { path },
        { path, message: `must be ${e.params.comparison} ${e.params.limit}, got ${show(e.data)}`, severity, hint },
      );
    case 'maxProperties':
      if (path[0] === 'head') {
        const keys = Object.keys(e.data as object);
        return source.at(
          { path },
          {
            path,
            message: `a head layer has exactly one key, its type; found ${keys.length}: ${keys.join(', ')}`,
            severity,
            hint: 'write each layer as its own list item, e.g. `- dense: { units: 128 }` then `- dropout: { rate: 0.3 }`',
          },
        );
      }
      break;
    case 'minProperties':
      if (path[0] === 'head') {
        return source.at(
          { path },
          {
            path,
            message: 'a head layer needs its type as its one key',
            severity,
            hint: 'e.g. `- dense: { units: classes, activation: softmax }`',
          },
        );
      }
      break;
    case 'anyOf': {
      // A value of none of the branches' types is told so, as a type union's is.
      const types = (e.schema as { type?: unknown }[]).map((branch) => branch.type);
      const message = types.every((t) => typeof t === 'string' && !hasType(e.data, t))
        ? `expected ${[...new Set(types)].join(' or ')}, got ${typeOfValue(e.data)}`
        : `${show(e.data)} is not a valid value here`;
      return source.at({ path }, { path, message, severity, hint });
    }
    case 'pattern':
      return source.at({ path }, { path, message: `${show(e.data)} is not a valid value here`, severity, hint });
    case 'minItems':
      return source.at({ path }, { path, message: `needs at least ${e.params.limit} item(s)`, severity, hint });
    case 'maxItems':
      return source.at({ path }, { path, message: `takes at most ${e.params.limit} item(s)`, severity, hint });
    case 'uniqueItems':
      return source.at(
        { path },
        { path, message: `items ${e.params.j} and ${e.params.i} are the same`, severity, hint },
      );
    default:
      break;
  }
  return source.at({ path }, { path, message: e.message ?? `fails ${e.keyword}`, severity, hint });
}
