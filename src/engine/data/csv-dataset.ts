import { createHash } from 'node:crypto';
import path from 'node:path';
import { didYouMean } from '../../diagnostics/did-you-mean.js';
import type { DatasetSpec } from '../../format/types.js';
import { CsvFormatError, parseCsvBytes } from './csv.js';
import type { LoadedDataset, SkippedFile } from './dataset-types.js';
import { UserError } from '../../diagnostics/user-error.js';
import { readRegularFile } from '../read-file.js';
import { readImageSplits, type DecodeOptions } from './image-folder.js';
import type { Selection } from './selection.js';

/** A field as a message shows it: never more than a few dozen characters of a file's contents. */
const shownField = (field: string | undefined): string => {
  const text = JSON.stringify(field ?? '');
  return text.length > 40 ? `${text.slice(0, 37)}…"` : text;
};

/**
 * A CSV of image paths and labels. Classes are the distinct labels, sorted
 * (or `classNames`, in that order); every row is checked before training, and
 * a bad row is an error naming its line (or, with `onBadFile: skip`, skipped).
 */
export async function readCsvDataset(
  spec: Extract<DatasetSpec, { format: 'csv' }>,
  options: {
    cacheBytes: number;
    select: (labels: { train: Int32Array }, numClasses: number) => Selection;
    signal?: AbortSignal;
  },
): Promise<LoadedDataset & { selection: Selection }> {
  const bytes = await readRegularFile(spec.file, 'csv', ['dataset', 'file']);
  let records;
  try {
    // Parsed from the bytes a piece at a time: the file is never in memory a second time as one string.
    records = parseCsvBytes(bytes);
  } catch (error) {
    if (error instanceof CsvFormatError)
      throw new UserError(`${spec.file}:${error.line}: ${error.message}`, ['dataset', 'file']);
    throw error;
  }
  const [header, ...rows] = records;
  if (!header || rows.length === 0)
    throw new UserError(`${spec.file}: needs a header row and at least one data row`, ['dataset', 'file']);
  const column = (name: string, key: string): number => {
    const index = header.fields.indexOf(name);
    if (index < 0) {
      const hint = didYouMean(name, header.fields);
      throw new UserError(
        `${spec.file}: no column named \`${name}\`; the header has ${header.fields.map((f) => `\`${f}\``).join(', ')}`,
        ['dataset', key],
        hint,
      );
    }
    return index;
  };
  const labelAt = column(spec.labelColumn, 'labelColumn');
  const featureAt = spec.featureColumns?.map((name) => column(name, 'featureColumns'));
  const imageAt = featureAt ? -1 : column(spec.imageColumn, 'imageColumn');
  const problems: SkippedFile[] = [];
  const usable: { file: string; label: string; values?: number[] }[] = [];
  const root = path.dirname(spec.file);
  for (const row of rows) {
    const where = `${spec.file}:${row.line}`;
    const label = row.fields[labelAt]?.trim() ?? '';
    const image = imageAt >= 0 ? (row.fields[imageAt]?.trim() ?? '') : '';
    const values = featureAt?.map((at) => Number(row.fields[at]?.trim() === '' ? Number.NaN : row.fields[at]));
    const badValue = featureAt && values ? values.findIndex((v) => !Number.isFinite(v)) : -1;
    if (row.fields.length !== header.fields.length)
      problems.push({ file: where, reason: `${row.fields.length} fields, the header has ${header.fields.length}` });
    else if (label === '') problems.push({ file: where, reason: `missing label (column \`${spec.labelColumn}\`)` });
    else if (imageAt >= 0 && image === '')
      problems.push({ file: where, reason: `missing image path (column \`${spec.imageColumn}\`)` });
    else if (badValue >= 0)
      problems.push({
        file: where,
        reason: `column \`${spec.featureColumns![badValue]}\` is not a number: ${shownField(row.fields[featureAt![badValue]!])}`,
      });
    else if (spec.classNames && !spec.classNames.includes(label))
      problems.push({ file: where, reason: `label \`${label}\` is not one of classNames` });
    else usable.push({ file: imageAt >= 0 ? path.resolve(root, image) : where, label, ...(values ? { values } : {}) });
  }
  if (problems.length > 0 && spec.onBadFile === 'error') {
    const shown = problems
      .slice(0, 5)
      .map((p) => `\n    ${p.file}: ${p.reason}`)
      .join('');
    throw new UserError(
      `${problems.length} bad row${problems.length === 1 ? '' : 's'}:${shown}${problems.length > 5 ? `\n    … and ${problems.length - 5} more` : ''}`,
      ['dataset', 'file'],
      'fix the rows, or set `onBadFile: skip` to train without them',
    );
  }
  const classNames =
    spec.classNames ?? [...new Set(usable.map((u) => u.label))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (classNames.length < 2)
    throw new UserError(`${spec.file}: ${classNames.length} distinct label(s); classification needs at least 2`, [
      'dataset',
      'labelColumn',
    ]);
  const hash = createHash('sha256').update(bytes);
  const labels = Int32Array.from(usable.map((u) => classNames.indexOf(u.label)));
  if (spec.featureColumns) {
    const width = spec.featureColumns.length;
    const table = Float32Array.from(usable.flatMap((u) => u.values!));
    return {
      input: { kind: 'rows', columns: spec.featureColumns },
      train: {
        count: usable.length,
        labels,
        name: (index) => usable[index]!.file,
        pixels: () => Promise.reject(new Error('a tabular dataset has no pixels')),
        vectors: async (indexes) => {
          const data = new Float32Array(indexes.length * width);
          indexes.forEach((index, row) => data.set(table.subarray(index * width, (index + 1) * width), row * width));
          return { data, count: indexes.length, width };
        },
      },
      numClasses: classNames.length,
      classNames,
      digest: hash.digest('hex'),
      skipped: problems,
      ignored: [],
      storage: 'memory',
      selection: options.select({ train: labels }, classNames.length),
    };
  }
  const decode: DecodeOptions = {
    size: spec.image.size,
    fit: spec.image.fit,
    onBadFile: spec.onBadFile,
    cacheBytes: options.cacheBytes,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const read = await readImageSplits(
    { files: usable.map((u) => u.file), labels: Array.from(labels), root },
    undefined,
    (l) => options.select(l, classNames.length),
    decode,
    ['dataset', 'file'],
  );
  return {
    input: { kind: 'image' },
    train: read.train,
    numClasses: classNames.length,
    classNames,
    // The CSV's own bytes and the images it names.
    digest: hash.update(read.digest).digest('hex'),
    skipped: [...problems, ...read.skipped],
    ignored: [],
    storage: read.storage,
    selection: read.selection,
  };
}
