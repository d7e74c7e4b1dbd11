import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Diagnostic, KeyPath } from '../diagnostics/diagnostic.js';
import type { AppliedOverride } from './overrides.js';

/** Aliases expanded past this count are an "alias bomb", refused rather than expanded. */
const MAX_ALIAS_COUNT = 100;

/**
 * A parsed YAML file that can say where any key path sits in the text, so
 * that every layer (schema, rules, engine) can report errors by key path and
 * let this one place turn them into `file:line:col`.
 */
export class SourceFile {
  readonly lines: string[];
  readonly lineCounter = new LineCounter();
  readonly document: Document.Parsed;
  /** Values set from outside the file (`--set`): problems with them are reported at the override, not at a line. */
  overrides: readonly AppliedOverride[] = [];

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    this.lines = text.split(/\r?\n/);
    this.document = parseDocument(text, { lineCounter: this.lineCounter, prettyErrors: false, uniqueKeys: true });
  }

  /** Syntax errors and warnings of the YAML itself. */
  syntaxDiagnostics(): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const [severity, list] of [
      ['error', this.document.errors],
      ['warning', this.document.warnings],
    ] as const) {
      for (const e of list) {
        // yaml's messages end with a position summary we print ourselves.
        const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        out.push(this.at({ offset: e.pos[0] }, { path: [], message, severity, hint: yamlHint(e.code) }));
      }
    }
    return out;
  }

  toJS(): unknown {
    return this.document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  }

  /** The node at `path`, or the deepest existing ancestor when the path runs out. */
  nodeAt(path: KeyPath): { node: Node | null; depth: number } {
    let node = this.document.contents as Node | null;
    let depth = 0;
    for (const part of path) {
      const next = isMap(node) || isSeq(node) ? (node.get(part, true) as Node | undefined) : undefined;
      if (next === undefined || next === null) break;
      node = next;
      depth++;
    }
    return { node, depth };
  }

  /** Whether the file writes `path` itself (not only an ancestor of it). */
  has(path: KeyPath): boolean {
    return this.nodeAt(path).depth === path.length;
  }

  /** The offset of the key (not the value) of `path`'s last element, for "unknown key" errors. */
  keyOffset(path: KeyPath): number | undefined {
    const parent = this.nodeAt(path.slice(0, -1));
    const last = path[path.length - 1];
    if (parent.depth !== path.length - 1 || !isMap(parent.node)) return undefined;
    const pair = parent.node.items.find((p) => isScalar(p.key) && p.key.value === last);
    const key = pair?.key as Node | undefined;
    return key?.range?.[0];
  }

  valueOffset(path: KeyPath): number | undefined {
    const { node } = this.nodeAt(path);
    return node?.range?.[0];
  }

  /** The override that set the value at `path` (or created the node that holds it), if one did. */
  overrideAt(path: KeyPath): AppliedOverride | undefined {
    const startsWith = (long: KeyPath, short: KeyPath): boolean => short.every((part, i) => long[i] === part);
    return (
      this.overrides.find((o) => startsWith(path, o.path)) ??
      this.overrides.find(
        (o) =>
          startsWith(o.path, path) &&
          this.nodeAt(path).depth === path.length &&
          this.nodeAt(path).node?.range === undefined,
      )
    );
  }

  /** Fills in line, column and source line for a diagnostic about `where`. */
  at(where: { offset?: number; path?: KeyPath; key?: boolean }, d: Omit<Diagnostic, 'file'>): Diagnostic {
    const override = where.path && where.offset === undefined ? this.overrideAt(where.path) : undefined;
    if (override?.at) return this.at({ path: override.at }, { ...d, message: `${d.message} (in ${override.label})` });
    if (override) return { ...d, file: override.label };
    const offset =
      where.offset ??
      (where.path ? ((where.key ? this.keyOffset(where.path) : undefined) ?? this.valueOffset(where.path)) : undefined);
    const out: Diagnostic = { file: this.file, ...d };
    if (offset !== undefined) {
      const { line, col } = this.lineCounter.linePos(offset);
      out.line = line;
      out.col = col;
      out.sourceLine = this.lines[line - 1] ?? '';
    }
    return out;
  }

  /** The first of `paths` the file (or an override) writes, or the first when none is written. */
  firstWritten(paths: readonly KeyPath[]): KeyPath {
    return paths.find((p) => this.has(p)) ?? paths[0]!;
  }

  /**
   * Places a diagnostic made elsewhere (the planner, the engine) that knows
   * only its key path, or (`locateAt`) the places it may point at in order.
   */
  locate(d: Diagnostic): Diagnostic {
    const { file: _elsewhere, locateAt, ...rest } = d;
    if (d.line !== undefined) return { ...rest, file: this.file };
    // Said at the key the file writes: `train.batchSize`, not the stage's own that it does not write.
    const place = locateAt ? this.firstWritten([d.path, ...locateAt]) : d.path;
    return place.length === 0 ? { ...rest, file: this.file } : this.at({ path: place }, { ...rest, path: place });
  }
}

function yamlHint(code: string): string | undefined {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'each key may appear once in a mapping; remove or rename one of them.';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'check the indentation: nested keys need more spaces than their parent, and list items start with "- ".';
    case 'TAB_AS_INDENT':
      return 'YAML indents with spaces, not tabs.';
    case 'RESOURCE_EXHAUSTION':
      return 'the file expands too many aliases; write the values out instead.';
    default:
      return undefined;
  }
}
