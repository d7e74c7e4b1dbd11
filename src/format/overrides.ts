import { isMap, isSeq, type Document, type Node } from 'yaml';
import { formatKeyPath, type Diagnostic, type KeyPath } from '../diagnostics/diagnostic.js';

/**
 * A value set from outside the file, by key path (`train.stages[0].epochs`),
 * as `tlpipe run --set` and the API's `overrides` do. `label` is how a
 * problem with it is reported: `--set train.stages[0].epochs=0`.
 */
export interface Override {
  path: string;
  value: unknown;
  label: string;
  /**
   * Where in the file a problem with it is reported, when the file itself
   * asked for the value: a sweep's parameter. The label then says which trial.
   */
  at?: KeyPath;
}

/** An override applied to a document, with its key path parsed. */
export interface AppliedOverride {
  path: KeyPath;
  label: string;
  at?: KeyPath;
}

const SEGMENT = /^(?:([A-Za-z_$][\w$-]*)|\[(\d+)\])/;

/** `train.stages[0].epochs` → ['train', 'stages', 0, 'epochs'], or undefined when it is not a key path. */
export function parseKeyPath(text: string): KeyPath | undefined {
  const parts: (string | number)[] = [];
  let rest = text;
  while (rest !== '') {
    if (parts.length > 0 && rest.startsWith('.')) rest = rest.slice(1);
    const match = rest.match(SEGMENT);
    if (!match || (parts.length === 0 && match[2] !== undefined)) return undefined;
    parts.push(match[1] !== undefined ? match[1] : Number(match[2]));
    rest = rest.slice(match[0].length);
    if (rest !== '' && !rest.startsWith('.') && !rest.startsWith('[')) return undefined;
  }
  return parts.length > 0 ? parts : undefined;
}

/**
 * Sets each override in the YAML document, so that the schema, the rules and
 * the run's copy of the pipeline see the values as if the file had them. A
 * list index may name an existing item or the one after the last; anything
 * else is a problem reported at the override.
 */
export function applyOverrides(
  document: Document.Parsed,
  overrides: readonly Override[],
  file: string,
  /** Places a problem with an override that has `at` (a sweep's parameter) at that place in the file. */
  placeAt?: (at: KeyPath, d: Omit<Diagnostic, 'file'>) => Diagnostic,
): { applied: AppliedOverride[]; problems: Diagnostic[] } {
  const applied: AppliedOverride[] = [];
  const problems: Diagnostic[] = [];
  for (const override of overrides) {
    const fail = (message: string, hint?: string): void => {
      const problem = { path: [], severity: 'error' as const, message, ...(hint ? { hint } : {}) };
      problems.push(
        override.at && placeAt
          ? placeAt(override.at, { ...problem, message: `${message} (in ${override.label})` })
          : { file: override.label, ...problem },
      );
    };
    const path = parseKeyPath(override.path);
    if (!path) {
      fail(
        `\`${override.path}\` is not a key path`,
        'write keys with dots and list items with [n], e.g. train.stages[0].epochs',
      );
      continue;
    }
    const reason = unreachable(document, path);
    if (reason) {
      fail(`cannot set ${formatKeyPath(path)}: ${reason}`, `${file} holds the value it would replace`);
      continue;
    }
    document.setIn(path, document.createNode(override.value));
    applied.push({ path, label: override.label, ...(override.at ? { at: override.at } : {}) });
  }
  return { applied, problems };
}

/** Why `path` cannot be set in `document` (a scalar in the way, a list index past the end), if it cannot. */
function unreachable(document: Document.Parsed, path: KeyPath): string | undefined {
  let node = document.contents as Node | null;
  for (const [depth, part] of path.entries()) {
    if (node === null || node === undefined) {
      // The rest is created: a new list starts at its first item.
      const index = path.slice(depth).find((p) => typeof p === 'number' && p !== 0);
      return index === undefined
        ? undefined
        : `${formatKeyPath(path.slice(0, depth))} does not exist; an override can create a list only from its first item, [0]`;
    }
    const at = formatKeyPath(path.slice(0, depth));
    if (typeof part === 'number') {
      if (!isSeq(node)) return `${at} is not a list`;
      if (part > node.items.length)
        return `${at} has ${node.items.length} item(s); an override can change one or add the next`;
    } else if (!isMap(node)) {
      return `${at === '(top level)' ? 'the file' : at} is not a mapping`;
    }
    node = (node.get(part, true) as Node | undefined) ?? null;
  }
  return undefined;
}
