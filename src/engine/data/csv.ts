import { StringDecoder } from 'node:string_decoder';

/** One parsed CSV record with the 1-based line it starts on, for error messages. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

export class CsvFormatError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/**
 * What one CSV record may hold. A field of a dataset CSV is a path, a label
 * or a number; a field of megabytes is a wrong file or a hostile one, and is
 * refused as soon as the parser has seen that much of it, before the rest
 * of it is read into memory (a 100 MB field took 3.7 GB when it was not).
 */
export interface CsvLimits {
  fieldChars: number;
  fieldsPerRecord: number;
}
export const CSV_LIMITS: Readonly<CsvLimits> = { fieldChars: 2 ** 20, fieldsPerRecord: 100_000 };

/** Bytes decoded per step of parseCsvBytes: the parser holds at most this much text besides the field it is in. */
const CHUNK_BYTES = 2 ** 20;

/**
 * RFC 4180 CSV: comma-separated, fields optionally in double quotes, "" for
 * a quote inside quotes, quoted fields may span lines; CRLF or LF; a UTF-8
 * byte-order mark is dropped. Blank lines are skipped. Text is pushed in
 * pieces of any size (a quote or CR/LF may end one piece and continue in
 * the next); a field or record past CSV_LIMITS is an error at its line.
 */
export class CsvParser {
  readonly records: CsvRecord[] = [];
  private fields: string[] = [];
  /** The current field's text so far, in pieces (joined once it ends: no quadratic concatenation). */
  private parts: string[] = [];
  private fieldLength = 0;
  private quoted = false;
  private atFieldStart = true;
  private line = 1;
  private recordLine = 1;
  /** The last character of a piece that needs the next one to be understood: a quote inside quotes, or a CR. */
  private carry = '';
  private started = false;

  constructor(private readonly limits: Readonly<CsvLimits> = CSV_LIMITS) {}

  push(piece: string): void {
    let text = this.carry + piece;
    this.carry = '';
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.scan(text, false);
  }

  /** The records, once the text has ended; throws when it ends inside a quoted field. */
  end(): CsvRecord[] {
    const rest = this.carry;
    this.carry = '';
    this.scan(rest, true);
    if (this.quoted) throw new CsvFormatError('a quoted field is never closed', this.recordLine);
    if (this.fields.length > 0 || this.parts.length > 0 || !this.atFieldStart) this.endRecord();
    return this.records;
  }

  private scan(text: string, final: boolean): void {
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.quoted) {
        if (c === QUOTE) {
          this.take(text, from, i);
          if (i + 1 === text.length && !final) {
            // A closing quote or the first of "": the next piece says which.
            this.carry = '"';
            return;
          }
          if (text.charCodeAt(i + 1) === QUOTE) {
            this.append('"');
            i++;
          } else this.quoted = false;
          from = i + 1;
        } else if (c === LF) this.line++;
      } else if (c === QUOTE && this.atFieldStart) {
        this.quoted = true;
        this.atFieldStart = false;
        from = i + 1;
      } else if (c === COMMA) {
        this.take(text, from, i);
        this.endField();
        from = i + 1;
      } else if (c === LF || c === CR) {
        this.take(text, from, i);
        if (c === CR && i + 1 === text.length && !final) {
          // CR alone or the first of CRLF: the next piece says which.
          this.carry = '\r';
          return;
        }
        if (c === CR && text.charCodeAt(i + 1) === LF) i++;
        this.line++;
        this.endRecord();
        from = i + 1;
      } else {
        if (c === QUOTE)
          throw new CsvFormatError(
            'a quote inside an unquoted field; quote the whole field and double the quote ("")',
            this.line,
          );
        this.atFieldStart = false;
      }
    }
    this.take(text, from, text.length);
  }

  /** Adds text[from, to) to the current field, refusing it once the field is longer than a field may be. */
  private take(text: string, from: number, to: number): void {
    if (to > from) this.append(text.slice(from, to));
  }

  private append(piece: string): void {
    this.fieldLength += piece.length;
    if (this.fieldLength > this.limits.fieldChars) {
      throw new CsvFormatError(
        `a field longer than ${this.limits.fieldChars} characters (a field is a path, a label or a number; is this the right file?)`,
        this.recordLine,
      );
    }
    this.parts.push(piece);
  }

  private endField(): void {
    this.fields.push(this.parts.length === 1 ? this.parts[0]! : this.parts.join(''));
    this.parts = [];
    this.fieldLength = 0;
    this.atFieldStart = true;
    if (this.fields.length > this.limits.fieldsPerRecord) {
      throw new CsvFormatError(
        `a record of more than ${this.limits.fieldsPerRecord} fields (is this the right file?)`,
        this.recordLine,
      );
    }
  }

  private endRecord(): void {
    this.endField();
    const fields = this.fields;
    if (!(fields.length === 1 && fields[0] === '')) this.records.push({ line: this.recordLine, fields });
    this.fields = [];
    this.recordLine = this.line;
  }
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/** A whole CSV text's records (see CsvParser). */
export function parseCsv(text: string, limits: Readonly<CsvLimits> = CSV_LIMITS): CsvRecord[] {
  const parser = new CsvParser(limits);
  parser.push(text);
  return parser.end();
}

/**
 * A CSV file's bytes parsed as UTF-8 a megabyte at a time, so the file is
 * never held twice (as bytes and as one string) and a field past the limit
 * is refused when the parser reaches it.
 */
export function parseCsvBytes(bytes: Uint8Array, limits: Readonly<CsvLimits> = CSV_LIMITS): CsvRecord[] {
  const parser = new CsvParser(limits);
  const decoder = new StringDecoder('utf8');
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES)
    parser.push(
      decoder.write(Buffer.from(bytes.buffer, bytes.byteOffset + at, Math.min(CHUNK_BYTES, bytes.length - at))),
    );
  parser.push(decoder.end());
  return parser.end();
}
