import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { DatasetCommon } from '../types.js';
import type { DatasetFormat } from './dataset-format.js';

/** The `dataset` keys only `format: segmentationFolder` reads (merged into the dataset object of schema.ts). */
export const segmentationFolderKeys = {
  images: Type.Optional(
    Type.String({
      description:
        'segmentationFolder: the folder of images (nested folders allowed); each has a mask with the same relative path and base name under `masks`.',
      minLength: 1,
    }),
  ),
  masks: Type.Optional(
    Type.String({
      description:
        'segmentationFolder: the folder of mask PNGs, one per image (same relative path and base name, .png); a pixel value is the class index, in the order of `classes`.',
      minLength: 1,
    }),
  ),
  testImages: Type.Optional(
    Type.String({
      description: 'segmentationFolder: a separate folder of test images (with testMasks).',
      minLength: 1,
    }),
  ),
  testMasks: Type.Optional(Type.String({ description: 'segmentationFolder: the masks of testImages.', minLength: 1 })),
  classes: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), {
      description:
        'segmentationFolder: the class names in mask-value order (value 0 first, usually background); 2 to 255 classes.',
      minItems: 2,
      uniqueItems: true,
    }),
  ),
  ignoreIndex: Type.Optional(
    Type.Integer({
      description:
        'segmentationFolder: a mask value that counts in no loss and no metric (often 255, the object borders of VOC).',
      minimum: 0,
      maximum: 255,
    }),
  ),
} as const;

/** The `limit` keys of segmentationFolder: a mask holds many classes, so images are counted, not examples per class. */
export const segmentationLimitKeys = {
  train: Type.Optional(
    Type.Integer({
      description: 'segmentationFolder: at most this many images for training and validation (seeded).',
      minimum: 1,
    }),
  ),
  test: Type.Optional(
    Type.Integer({ description: 'segmentationFolder: at most this many test images (seeded).', minimum: 1 }),
  ),
} as const;

/** `dataset: { format: segmentationFolder, … }` resolved: paths absolute, the test fraction and bad-file policy filled. */
export interface SegmentationFolderDataset extends DatasetCommon {
  format: 'segmentationFolder';
  images: string;
  masks: string;
  testImages?: string;
  testMasks?: string;
  classes: string[];
  ignoreIndex?: number;
  testFraction: number;
  onBadFile: 'error' | 'skip';
}

/** A folder of images and a folder of mask PNGs (`task: segmentation`). */
export const segmentationFolder = {
  summary: 'segmentationFolder (task: segmentation): a folder of images and a folder of mask PNGs.',
  properties: segmentationFolderKeys,
  keys: ['images', 'masks', 'testImages', 'testMasks', 'classes', 'ignoreIndex', 'test', 'onBadFile'],
  keysHint:
    'format `segmentationFolder` reads `images`, `masks`, `classes`, and optionally `ignoreIndex`, `test: <fraction>` or `testImages` and `testMasks`',
  resolve: (written, common, dir) => ({
    format: 'segmentationFolder',
    ...common,
    images: path.resolve(dir, written.images!),
    masks: path.resolve(dir, written.masks!),
    ...(written.testImages ? { testImages: path.resolve(dir, written.testImages) } : {}),
    ...(written.testMasks ? { testMasks: path.resolve(dir, written.testMasks) } : {}),
    classes: written.classes!,
    ...(written.ignoreIndex !== undefined ? { ignoreIndex: written.ignoreIndex } : {}),
    testFraction: typeof written.test === 'number' ? written.test : 0,
    onBadFile: written.onBadFile,
  }),
} as const satisfies DatasetFormat<'segmentationFolder'>;
