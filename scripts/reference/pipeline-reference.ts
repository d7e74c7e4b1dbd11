/**
 * docs/reference/pipeline.md, written from the pipeline's JSON Schema (the
 * one declaration in src/format/schema.ts): every key a pipeline file can
 * hold, with its type, default and description. A key without a description
 * is an error, so a key cannot be added without its doc.
 */
import { markdownCell } from './markdown-text.js';

/** The parts of a JSON Schema node the reference reads. */
export interface SchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  items?: SchemaNode | SchemaNode[];
  /** A list of fixed length, item by item: `[height, width]`. */
  prefixItems?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  required?: string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  pattern?: string;
}

/** One key of the file: where it is, what it takes, its default and what it does. */
export interface KeyRow {
  path: string;
  type: string;
  required: boolean;
  /** As the page shows it: the value in code, `see description` where it depends on another key, or empty. */
  default: string;
  description: string;
}

const shown = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

/** The bounds of a number, a list or a text, as people read them: `≥ 1`, `0 < x ≤ 1`, `2 items`. */
function bounds(node: SchemaNode): string {
  const parts: string[] = [];
  const low =
    node.exclusiveMinimum !== undefined
      ? `> ${node.exclusiveMinimum}`
      : node.minimum !== undefined
        ? `≥ ${node.minimum}`
        : '';
  const high =
    node.exclusiveMaximum !== undefined
      ? `< ${node.exclusiveMaximum}`
      : node.maximum !== undefined
        ? `≤ ${node.maximum}`
        : '';
  if (low && high) parts.push(`${low}, ${high}`);
  else if (low || high) parts.push(low || high);
  if (node.minItems !== undefined && node.minItems === node.maxItems) parts.push(`${node.minItems} items`);
  else if (node.minItems !== undefined && node.minItems > 0) parts.push(`at least ${node.minItems}`);
  return parts.join(', ');
}

/** What a node takes, in words: `integer ≥ 1`, `one of: auto, wasm`, `list of text`, `number or "auto"`. */
export function typeOf(node: SchemaNode): string {
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives) return [...new Set(alternatives.map(typeOf))].join(' or ');
  if (node.const !== undefined) return `\`${shown(node.const)}\``;
  if (node.enum) return `one of: ${node.enum.map((v) => `\`${shown(v)}\``).join(', ')}`;
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : [];
  const words = types.map((type) => {
    if (type === 'array' && node.prefixItems) return `[${node.prefixItems.map(typeOf).join(', ')}]`;
    if (type === 'array') {
      const items = Array.isArray(node.items)
        ? node.items.map(typeOf).join(', ')
        : node.items
          ? typeOf(node.items)
          : 'values';
      return `list of ${items}`;
    }
    return type === 'string' ? 'text' : type === 'null' ? 'null' : type;
  });
  const range = node.prefixItems ? '' : bounds(node);
  return `${words.join(' or ') || 'any'}${range ? ` (${range})` : ''}`;
}

/** The default as the page shows it; one that depends on another key is said in the description. */
function defaultShown(node: SchemaNode): string {
  if (node.default !== undefined) return `\`${markdownCell(shown(node.default))}\``;
  return /\bDefault\b/.test(node.description ?? '') ? 'see description' : '';
}

/** The description without the `Default: …` that `withDefault` appends, since the default has its own column. */
function ownDescription(node: SchemaNode): string {
  const text = node.description ?? '';
  return node.default === undefined ? text : text.replace(/\s*Default: [^\n]*\.$/, '');
}

/**
 * Every key under `node`, depth first, as `parent.key` (list items as `[]`,
 * free-named keys as `<name>`). Objects inside unions and lists are walked
 * too, so `head[].dense.units` and `train.stages[].optimizer.learningRate.type` appear.
 */
export function keyRows(node: SchemaNode, at = ''): KeyRow[] {
  const rows: KeyRow[] = [];
  const visit = (child: SchemaNode, childPath: string): void => {
    for (const alternative of child.anyOf ?? child.oneOf ?? []) visit(alternative, childPath);
    if (child.items && !Array.isArray(child.items)) visit(child.items, `${childPath}[]`);
    const keys: [string, SchemaNode, boolean][] = [
      ...Object.entries(child.properties ?? {}).map(([key, value]): [string, SchemaNode, boolean] => [
        key,
        value,
        child.required?.includes(key) ?? false,
      ]),
      ...Object.values(child.patternProperties ?? {}).map((value): [string, SchemaNode, boolean] => [
        '<name>',
        value,
        false,
      ]),
    ];
    for (const [key, value, required] of keys) {
      const keyPath = childPath ? `${childPath}.${key}` : key;
      if (!value.description?.trim())
        throw new Error(
          `the pipeline key ${keyPath} has no description: give it one in src/format/schema.ts (or the part that declares it), then run npm run docs`,
        );
      rows.push({
        path: keyPath,
        type: typeOf(value),
        required,
        default: defaultShown(value),
        description: ownDescription(value),
      });
      visit(value, keyPath);
    }
  };
  visit(node, at);
  // A key reached through two alternatives (a dataset format's keys, say) is listed once.
  return rows.filter((row, i) => rows.findIndex((r) => r.path === row.path) === i);
}

/** The page: a section per top-level key, a table row per key under it. */
export function pipelineReference(schema: SchemaNode): string {
  const rows = keyRows(schema);
  const topLevel = Object.keys(schema.properties ?? {});
  const sections = topLevel.map((key) => {
    const top = rows.find((r) => r.path === key)!;
    const under = rows.filter((r) => r.path.startsWith(`${key}.`) || r.path.startsWith(`${key}[]`));
    const table = [
      '| key | type | default | description |',
      '|---|---|---|---|',
      ...under.map(
        (r) =>
          `| \`${r.path}\`${r.required ? ' (required)' : ''} | ${markdownCell(r.type)} | ${r.default} | ${markdownCell(r.description)} |`,
      ),
    ];
    return [
      `## \`${key}\``,
      '',
      `${top.required ? '**Required.** ' : ''}${markdownCell(top.description)}`,
      '',
      `Type: ${markdownCell(top.type)}${top.default ? ` · default: ${top.default}` : ''}`,
      ...(under.length > 0 ? ['', ...table] : []),
    ].join('\n');
  });
  return `${[
    '# Pipeline file reference',
    '',
    '<!-- Written by `npm run docs` from src/format/schema.ts; test/scripts/reference.test.ts fails when it is stale. Do not edit. -->',
    '',
    `Every key of a pipeline file: its type, its default and what it does, as the JSON Schema (\`schemas/pipeline.schema.json\`, \`tlpipe/schema.json\` in the package) declares them. Editors that read the schema show the same descriptions on hover. A default that depends on another key is said in the description and filled in when the pipeline is resolved (\`tlpipe plan\` shows the result). Keys are written \`parent.key\`; \`[]\` is an item of a list, \`<name>\` a key you name.`,
    '',
    `Top-level keys: ${topLevel.map((key) => `[\`${key}\`](#${key.replace(/[^a-z0-9]/gi, '').toLowerCase()})`).join(' · ')}`,
    '',
    ...sections.flatMap((s) => [s, '']),
  ]
    .join('\n')
    .trimEnd()}\n`;
}
