/**
 * What the CLI prints fits in TEXT_WIDTH columns, so a normal terminal (and a
 * CI log) shows it without wrapping it mid-word: tables, paragraphs, and
 * every progress line, whose long ones wrap with a hanging indent.
 */

/** What the CLI's tables and paragraphs fit in: a terminal a little wider than 80 columns. */
export const TEXT_WIDTH = 100;

/** Columns a line takes: code points (`×`, `≤`, `…` are one each, as the tests count them). */
const columns = (text: string): number => [...text].length;

/** `text` wrapped at spaces into lines of at most `width` (a word longer than that stays whole on its line). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && columns(line) + 1 + columns(word) > width) {
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

/**
 * Text of one or more lines, each wrapped to `width` with a hanging indent.
 * A diagnostic's source excerpt (`  12 | text` and its caret line) is left
 * as it is: wrapping it would move the caret off the column it marks.
 */
export function fitText(text: string, width = TEXT_WIDTH): string {
  return text
    .split('\n')
    .flatMap((line) => (columns(line) <= width || /^\s+(\d+ )?\| /.test(line) ? [line] : wrapParagraph(line, width)))
    .join('\n');
}
