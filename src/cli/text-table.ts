import { TEXT_WIDTH, wrapText } from '../progress/text-width.js';

// One width and one way of wrapping for tables, paragraphs and progress lines alike.
export { TEXT_WIDTH, wrapParagraph, wrapText } from '../progress/text-width.js';

/** Rows as left-aligned columns two spaces apart, trailing spaces trimmed. */
export function alignColumns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * As alignColumns, with the last column wrapped at spaces so that every line
 * fits `width`: its continuation lines start under it. A table whose other
 * columns already fill the width gets its last column on lines of its own.
 */
export function fitColumns(rows: string[][], width = TEXT_WIDTH): string[] {
  const last = rows[0]!.length - 1;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const indent = widths.slice(0, last).reduce((sum, w) => sum + w + 2, 0);
  const room = Math.max(width - indent, 24);
  return rows.flatMap((row) => {
    const head = row
      .slice(0, last)
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ');
    const [first, ...rest] = wrapText(row[last] ?? '', room);
    return [`${head}  ${first ?? ''}`.trimEnd(), ...rest.map((line) => `${' '.repeat(indent)}${line}`)];
  });
}
