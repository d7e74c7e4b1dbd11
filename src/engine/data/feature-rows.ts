import { didYouMean } from '../../diagnostics/did-you-mean.js';
import { UserError } from '../../diagnostics/user-error.js';
import { readRegularFile } from '../read-file.js';
import { CsvFormatError, parseCsvBytes } from './csv.js';
import type { VectorBatch } from './dataset-types.js';

/** Rows of a CSV read for a trained tabular model: its feature columns by name, in the model's order. */
export interface FeatureRows {
  /** `file.csv:12` for each row, in order. */
  names: string[];
  rows: VectorBatch;
  /** Each row's label, when the file has the label column. */
  labels?: string[];
}

/** A row given in memory: values by column name, or in the model's column order. */
export type FeatureRow = Readonly<Record<string, number>> | readonly number[];

/** Bad rows named in one error: the first few, and how many more. */
const SHOWN_PROBLEMS = 5;

/** A field as a message shows it: never more than a few dozen characters of a file's contents. */
const shownField = (field: string | undefined): string => {
  const text = JSON.stringify(field ?? '');
  return text.length > 40 ? `${text.slice(0, 37)}…"` : text;
};

function badRows(problems: readonly string[], hint: string): UserError {
  const shown = problems
    .slice(0, SHOWN_PROBLEMS)
    .map((p) => `\n    ${p}`)
    .join('');
  const more = problems.length > SHOWN_PROBLEMS ? `\n    … and ${problems.length - SHOWN_PROBLEMS} more` : '';
  return new UserError(`${problems.length} bad row${problems.length === 1 ? '' : 's'}:${shown}${more}`, [], hint);
}

/**
 * Reads a CSV of rows for a model trained on `columns`: the columns are
 * found by name in the header (any order, other columns ignored); the label
 * column is read when present, and must be when `label.required`. Every
 * problem names its `file:line`: a missing column, a cell that is not a
 * number, a row with more or fewer fields than the header.
 */
export async function readFeatureRows(
  file: string,
  columns: readonly string[],
  label: { column: string; required: boolean },
): Promise<FeatureRows> {
  const bytes = await readRegularFile(file, 'csv');
  let records;
  try {
    records = parseCsvBytes(bytes);
  } catch (error) {
    if (error instanceof CsvFormatError) throw new UserError(`${file}:${error.line}: ${error.message}`);
    throw error;
  }
  const [header, ...data] = records;
  if (!header || data.length === 0) throw new UserError(`${file}: needs a header row and at least one data row`);
  const at = (name: string, what: string): number => {
    const index = header.fields.indexOf(name);
    if (index < 0)
      throw new UserError(
        `${file}:${header.line}: no ${what} \`${name}\`; the header has ${header.fields.map((f) => `\`${f}\``).join(', ')}`,
        [],
        [
          didYouMean(name, header.fields),
          what === 'label column'
            ? 'rows to evaluate need the class of each row in the column the run was trained with'
            : `the model reads the columns ${columns.map((c) => `\`${c}\``).join(', ')}`,
        ]
          .filter(Boolean)
          .join('; '),
      );
    return index;
  };
  const featureAt = columns.map((name) => at(name, 'feature column'));
  const labelAt = label.required ? at(label.column, 'label column') : header.fields.indexOf(label.column);
  const width = columns.length;
  const values = new Float32Array(data.length * width);
  const names: string[] = [];
  const labels: string[] = [];
  const problems: string[] = [];
  for (const [row, record] of data.entries()) {
    const where = `${file}:${record.line}`;
    names.push(where);
    if (record.fields.length !== header.fields.length) {
      problems.push(`${where}: ${record.fields.length} fields, the header has ${header.fields.length}`);
      continue;
    }
    const bad = featureAt.findIndex((c, i) => {
      const text = record.fields[c]!.trim();
      const value = text === '' ? Number.NaN : Number(text);
      values[row * width + i] = value;
      return !Number.isFinite(value);
    });
    if (bad >= 0)
      problems.push(
        `${where}: column \`${columns[bad]}\` is not a number: ${shownField(record.fields[featureAt[bad]!])}`,
      );
    if (labelAt >= 0) {
      const value = record.fields[labelAt]!.trim();
      if (value === '' && label.required) problems.push(`${where}: missing label (column \`${label.column}\`)`);
      labels.push(value);
    }
  }
  if (problems.length > 0)
    throw badRows(problems, 'fix the rows: every feature cell a number, every row as wide as the header');
  return {
    names,
    rows: { data: values, count: data.length, width },
    ...(labelAt >= 0 ? { labels } : {}),
  };
}

/** Rows given in memory, each by column name or in `columns` order; a row that does not fit is named by its index. */
export function featureRowsOf(rows: readonly FeatureRow[], columns: readonly string[]): FeatureRows {
  const width = columns.length;
  const values = new Float32Array(rows.length * width);
  const problems: string[] = [];
  rows.forEach((row, r) => {
    const cells = isOrdered(row) ? row : columns.map((c) => row[c]);
    if (isOrdered(row) && row.length !== width) {
      problems.push(`row ${r}: ${row.length} values, the model reads ${width} columns`);
      return;
    }
    const bad = cells.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
    if (bad >= 0) {
      problems.push(
        isOrdered(row) || cells[bad] !== undefined
          ? `row ${r}: column \`${columns[bad]}\` is not a finite number`
          : `row ${r}: no column \`${columns[bad]}\``,
      );
      return;
    }
    values.set(cells as number[], r * width);
  });
  if (problems.length > 0) throw badRows(problems, `each row has the model's columns: ${columns.join(', ')}`);
  return { names: rows.map((_, r) => `row ${r}`), rows: { data: values, count: rows.length, width } };
}

const isOrdered = (row: FeatureRow): row is readonly number[] => Array.isArray(row);
