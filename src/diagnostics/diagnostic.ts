/** A path into the pipeline document: object keys and array indexes. */
export type KeyPath = readonly (string | number)[];

/**
 * A user-facing problem, kept as data until the CLI decides to print it.
 * `line`/`col` are 1-based; absent when the problem has no place in a file
 * (a missing file, say).
 */
export interface Diagnostic {
  file: string;
  line?: number;
  col?: number;
  path: KeyPath;
  message: string;
  hint?: string;
  /** The source line the position points into, for the snippet. */
  sourceLine?: string;
  /**
   * Other key paths the problem may be shown at, in order, when the file
   * does not write `path` itself (a stage's batch size, else train.batchSize).
   */
  locateAt?: readonly KeyPath[];
  severity: 'error' | 'warning';
}

export type Result<T> = { ok: true; value: T; warnings: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[] };

/** `head[3].dense.units`, the way users read a key path. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(top level)' : out;
}

/**
 * Prints a diagnostic the way compilers do:
 *
 *     pipelines/q.yaml:12:7: error: train.stages[0].epochs: must be >= 1
 *        12 |       epochs: 0
 *           |       ^
 *       hint: Passes over the training data in this stage.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line === undefined ? d.file : `${d.file}:${d.line}:${d.col ?? 1}`;
  const key = d.path.length > 0 ? `${formatKeyPath(d.path)}: ` : '';
  const lines = [`${where}: ${d.severity}: ${key}${d.message}`];
  if (d.line !== undefined && d.sourceLine !== undefined) {
    const gutter = String(d.line);
    const { text, caret } = excerpt(d.sourceLine, (d.col ?? 1) - 1);
    lines.push(`  ${gutter} | ${text}`);
    lines.push(`  ${' '.repeat(gutter.length)} | ${' '.repeat(caret)}^`);
  }
  if (d.hint) lines.push(`  hint: ${d.hint}`);
  return lines.join('\n');
}

/** Source lines are echoed at most this wide: a 900 KB line of a huge value is not. */
export const MAX_ECHOED_LINE = 120;

/** The part of a long line around `column` (0-based), marked with … where cut, and where the caret goes in it. */
export function excerpt(line: string, column: number): { text: string; caret: number } {
  if (line.length <= MAX_ECHOED_LINE) return { text: line, caret: column };
  const start = Math.max(0, Math.min(column - MAX_ECHOED_LINE / 3, line.length - MAX_ECHOED_LINE));
  const end = Math.min(line.length, start + MAX_ECHOED_LINE);
  const head = start > 0 ? '…' : '';
  return {
    text: `${head}${line.slice(start, end)}${end < line.length ? '…' : ''}`,
    caret: column - start + head.length,
  };
}

export function byPosition(a: Diagnostic, b: Diagnostic): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);
}
