/**
 * Text from the schema and the command table made safe for a Markdown table
 * cell: `|` escaped, lines joined, and `<` outside code spans written as
 * `&lt;`, so `runs/<name>/` is not taken for an HTML tag and hidden.
 */
export function markdownCell(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('')
    .replace(/\|/g, '\\|');
}
