import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { IdxFiles } from '../types.js';
import { describe } from '../schema-kit.js';
import type { DatasetFormat } from './dataset-format.js';

/** An IDX image file and its label file. */
export const idxFiles = Type.Object(
  {
    images: Type.String({ description: 'Path to an IDX image file (idx3, uint8), plain or .gz.', minLength: 1 }),
    labels: Type.String({ description: 'Path to an IDX label file (idx1, uint8), plain or .gz.', minLength: 1 }),
  },
  { additionalProperties: false },
);

const resolveFiles = (dir: string, p: { images: string; labels: string }): IdxFiles => ({
  images: path.resolve(dir, p.images),
  labels: path.resolve(dir, p.labels),
});

/** The user's own IDX files: a training pair and an optional test pair. */
export const idx = {
  summary: 'idx: your own IDX files (plain or .gz), e.g. Fashion-MNIST.',
  properties: {
    train: Type.Optional(describe(idxFiles, 'The training IDX files (format: idx only).')),
  },
  keys: ['train', 'test'],
  keysHint: 'format `idx` reads `train: { images, labels }` and optionally `test: { images, labels }`',
  resolve: (written, common, dir) => ({
    format: 'idx',
    ...common,
    train: resolveFiles(dir, written.train!),
    ...(typeof written.test === 'object' ? { test: resolveFiles(dir, written.test) } : {}),
  }),
} as const satisfies DatasetFormat<'idx'>;
