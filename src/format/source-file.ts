import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Diagnostic, KeyPath } from '../diagnostics/diagnostic.js';

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

  constructor(readonly file: string, readonly text: string) {
    this.lines = text.split(/\r?\n/);
    this.document = parseDocument(text, { lineCounter: this.lineCounter, prettyErrors: false, uniqueKeys: true });
  }

  /** Syntax errors and warnings of the YAML itself. */
  syntaxDiagnostics(): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const [severity, list] of [['error', this.document.errors], ['warning', this.document.warnings]] as const) {
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

  /** Fills in line, column and source line for a diagnostic about `where`. */
  at(where: { offset?: number; path?: KeyPath; key?: boolean }, d: Omit<Diagnostic, 'file'>): Diagnostic {
    const offset =
      where.offset ?? (where.path ? (where.key ? this.keyOffset(where.path) : undefined) ?? this.valueOffset(where.path) : undefined);
    const out: Diagnostic = { file: this.file, ...d };
    if (offset !== undefined) {
      const { line, col } = this.lineCounter.linePos(offset);
      out.line = line;
      out.col = col;
      out.sourceLine = this.lines[line - 1] ?? '';
    }
    return out;
  }

  /** Places a diagnostic made elsewhere (the engine, say) that knows only its key path. */
  locate(d: Diagnostic): Diagnostic {
    const { file: _elsewhere, ...rest } = d;
    if (d.line !== undefined) return { ...d, file: this.file };
    return d.path.length === 0 ? { ...rest, file: this.file } : this.at({ path: d.path }, rest);
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
