import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { withDefault } from '../schema-kit.js';
import type { DatasetFormat } from './dataset-format.js';

/** A CSV file: a label column, and either a column of image paths or numeric feature columns (tabular rows). */
export const csv = {
  summary:
    'csv: a CSV file with a label column and a column of image paths, or numeric feature columns (tabular rows).',
  properties: {
    file: Type.Optional(
      Type.String({ description: 'csv: the CSV file (header row first; RFC 4180 quoting).', minLength: 1 }),
    ),
    labelColumn: Type.Optional(
      withDefault('label', Type.String({ description: "csv: the column holding each row's class.", minLength: 1 })),
    ),
    imageColumn: Type.Optional(
      withDefault(
        'image',
        Type.String({
          description: "csv: the column holding each row's image path, relative to the CSV file.",
          minLength: 1,
        }),
      ),
    ),
    featureColumns: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          "csv: numeric feature columns: each row is a tabular example instead of an image. With `base: { model: none }` the head's dense layers read them directly; a base whose input is a vector (a model.json base) also takes them. Each column is standardised with the training split's mean and standard deviation, recorded in the run's model/preprocessing.json and applied to every row predict and evaluate read.",
        minItems: 1,
        uniqueItems: true,
      }),
    ),
  },
  keys: ['file', 'labelColumn', 'imageColumn', 'featureColumns', 'test', 'onBadFile'],
  keysHint:
    'format `csv` reads `file`, `labelColumn`, `imageColumn` or `featureColumns`, and optionally `test: <fraction>`',
  resolve: (written, common, dir) => ({
    format: 'csv',
    ...common,
    file: path.resolve(dir, written.file!),
    labelColumn: written.labelColumn,
    imageColumn: written.imageColumn,
    ...(written.featureColumns ? { featureColumns: written.featureColumns } : {}),
    testFraction: typeof written.test === 'number' ? written.test : 0,
    onBadFile: written.onBadFile,
  }),
} as const satisfies DatasetFormat<'csv'>;
