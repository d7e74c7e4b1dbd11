/** What the CLI's tables and paragraphs fit in: a terminal a little wider than 80 columns. */
export const TEXT_WIDTH = 100;

/** Rows as left-aligned columns two spaces apart, trailing spaces trimmed. */
export function alignColumns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
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
    const head = row.slice(0, last).map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
    const [first, ...rest] = wrapText(row[last] ?? '', room);
    return [`${head}  ${first ?? ''}`.trimEnd(), ...rest.map((line) => `${' '.repeat(indent)}${line}`)];
  });
}

/** `text` wrapped at spaces into lines of at most `width` (a word longer than that stays whole on its line). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

/** A line wrapped to `width`, its continuation lines indented by `indent` more than its own indentation. */
export function wrapParagraph(line: string, width = TEXT_WIDTH, indent = 2): string[] {
  const own = /^ */.exec(line)![0];
  const [first, ...rest] = wrapText(line.slice(own.length), width - own.length);
  const next = wrapText(rest.join(' '), width - own.length - indent);
  return [`${own}${first}`, ...(rest.length > 0 ? next.map((l) => `${own}${' '.repeat(indent)}${l}`) : [])];
}
