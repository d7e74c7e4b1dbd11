/** One parsed CSV record with the 1-based line it starts on, for error messages. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

export class CsvFormatError extends Error {
  constructor(message: string, readonly line: number) {
    super(message);
  }
}

/**
 * RFC 4180 CSV: comma-separated, fields optionally in double quotes, "" for
 * a quote inside quotes, quoted fields may span lines; CRLF or LF; a UTF-8
 * byte-order mark is dropped. Blank lines are skipped.
 */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let atFieldStart = true;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i++;
          } else quoted = false;
        } else {
          if (c === '\n') line++;
          field += c;
        }
      } else if (c === '"' && atFieldStart) {
        quoted = true;
        atFieldStart = false;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        atFieldStart = true;
      } else if (c === '\n' || c === '\r') {
        if (c === '\r' && text[i + 1] === '\n') i++;
        i++;
        line++;
        break;
      } else {
        if (c === '"') throw new CsvFormatError('a quote inside an unquoted field; quote the whole field and double the quote ("")', line);
        field += c;
        atFieldStart = false;
      }
    }
    if (quoted) throw new CsvFormatError('a quoted field is never closed', startLine);
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: startLine, fields });
  }
  return records;
}
