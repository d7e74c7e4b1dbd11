import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { DatasetFormat } from './dataset-format.js';

/** A folder with one sub-folder of images per class. */
export const imageFolder = {
  summary: 'imageFolder: a folder with one sub-folder of images per class.',
  properties: {
    dir: Type.Optional(
      Type.String({
        description:
          'imageFolder: the folder holding one sub-folder per class (JPEG, PNG, WebP, GIF, TIFF, AVIF; nested folders allowed). Class names are the sub-folder names, sorted.',
        minLength: 1,
      }),
    ),
    testDir: Type.Optional(
      Type.String({
        description:
          'imageFolder: a separate folder of test images with the same class sub-folders. Alternative to `test: <fraction>`.',
        minLength: 1,
      }),
    ),
  },
  keys: ['dir', 'testDir', 'test', 'onBadFile'],
  keysHint: 'format `imageFolder` reads `dir`, and optionally `test: <fraction>` or `testDir`',
  resolve: (written, common, dir) => ({
    format: 'imageFolder',
    ...common,
    dir: path.resolve(dir, written.dir!),
    ...(written.testDir ? { testDir: path.resolve(dir, written.testDir) } : {}),
    testFraction: typeof written.test === 'number' ? written.test : 0,
    onBadFile: written.onBadFile,
  }),
} as const satisfies DatasetFormat<'imageFolder'>;
