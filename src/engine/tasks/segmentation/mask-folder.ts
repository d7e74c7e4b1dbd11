import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../../diagnostics/user-error.js';
import type { SkippedFile } from '../../data/dataset-types.js';
import { decodedCacheBytes } from '../../data/image-folder.js';
import type { ImagePreprocessing } from '../../data/preprocess.js';
import { readSegmentationFolderDataset, type SegmentationSplit } from '../../data/segmentation-folder.js';

/** The sub-folders of a labelled mask folder given to `evaluate --data`: the layout of TF's segmentation tutorial and of most datasets. */
export const MASK_FOLDER_LAYOUT = { images: 'images', masks: 'masks' } as const;

const LAYOUT_HINT = `a folder of labelled masks holds ${MASK_FOLDER_LAYOUT.images}/ (the images) and ${MASK_FOLDER_LAYOUT.masks}/ (a PNG per image, same name, pixel value = class index in the model's class order)`;

/**
 * Every image of `dir`/images with its mask from `dir`/masks, read and
 * checked by the segmentationFolder reader itself (so a bad mask is named
 * as a pipeline's would be), at the model's input size and fit. A pair that
 * cannot be used is left out and returned in `skipped`; the rest are the
 * split, every one of them selected.
 */
export async function readMaskFolder(
  dir: string,
  classNames: readonly string[],
  ignoreIndex: number | undefined,
  pre: ImagePreprocessing,
): Promise<{ split: SegmentationSplit; indexes: number[]; skipped: SkippedFile[] }> {
  for (const sub of [MASK_FOLDER_LAYOUT.images, MASK_FOLDER_LAYOUT.masks]) {
    const info = await stat(path.join(dir, sub)).catch(() => undefined);
    if (!info?.isDirectory()) throw new UserError(`${dir} has no ${sub}/ folder`, [], LAYOUT_HINT);
  }
  try {
    const read = await readSegmentationFolderDataset(
      {
        format: 'segmentationFolder',
        images: path.join(dir, MASK_FOLDER_LAYOUT.images),
        masks: path.join(dir, MASK_FOLDER_LAYOUT.masks),
        classes: [...classNames],
        ...(ignoreIndex !== undefined ? { ignoreIndex } : {}),
        testFraction: 0,
        onBadFile: 'skip',
        limit: {},
        validation: 0,
        image: { size: pre.inputSize, channels: pre.channels, fit: pre.fit },
      },
      // The seed only orders the pairs: every one is evaluated.
      { cacheBytes: decodedCacheBytes(), seed: 0 },
    );
    return { split: read.train, indexes: read.selection.train, skipped: read.skipped };
  } catch (error) {
    // The reader's errors point at pipeline keys; here the folder is a command's argument.
    if (error instanceof UserError) throw new UserError(error.message, [], error.hint ?? LAYOUT_HINT);
    throw error;
  }
}

/** Said when no pair of the folder can be used. */
export function noUsablePairs(dir: string, skipped: readonly SkippedFile[]): UserError {
  const shown = skipped
    .slice(0, 5)
    .map((s) => `\n    ${s.file}: ${s.reason}`)
    .join('');
  return new UserError(
    `no image of ${dir} can be evaluated: ${skipped.length} image or mask file${skipped.length === 1 ? '' : 's'} cannot be used:${shown}${skipped.length > 5 ? `\n    … and ${skipped.length - 5} more` : ''}`,
    [],
    LAYOUT_HINT,
  );
}
