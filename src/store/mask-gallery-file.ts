import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { MaskOverlay } from '../engine/tasks/segmentation/evaluate-masks.js';
import { writeJsonAtomic } from './atomic-write.js';
import { readShapedJsonIfPresent } from './read-back-shape.js';
import { relativePath } from './relative-paths.js';

/**
 * masks.json: `task: segmentation`'s worst test images with their true and
 * predicted masks over them (PNGs as base64), so report.html can be rebuilt
 * from the run folder alone — as examples.json is for classification.
 */
export const MASK_GALLERY_FILE = 'masks.json';

export interface StoredMaskOverlay {
  example: string;
  meanIoU: number;
  truth: string;
  predicted: string;
}

const base64 = (png: Uint8Array): string => Buffer.from(png).toString('base64');

/** Writes masks.json, each example's file named relative to `pipelineDir` (the pipeline file's folder). */
export function writeMaskGallery(dir: string, overlays: readonly MaskOverlay[], pipelineDir = dir): Promise<void> {
  const value: StoredMaskOverlay[] = overlays.map((o) => ({
    example: relativePath(o.example, pipelineDir),
    meanIoU: o.meanIoU,
    truth: base64(o.truth),
    predicted: base64(o.predicted),
  }));
  return writeJsonAtomic(path.join(dir, MASK_GALLERY_FILE), value);
}

const Base64 = Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$' });
export const MaskGallerySchema = Type.Array(
  Type.Object({ example: Type.String(), meanIoU: Type.Number(), truth: Base64, predicted: Base64 }),
);

/** A run's masks.json; undefined when it has none. Damaged, it is a user error naming it (the report rebuilds without it once removed). */
export async function readMaskGallery(dir: string): Promise<StoredMaskOverlay[] | undefined> {
  const file = path.join(dir, MASK_GALLERY_FILE);
  const hint = `masks.json was damaged or edited by hand; remove it (rm ${file}) to rebuild the report without its masks`;
  return (await readShapedJsonIfPresent(dir, MASK_GALLERY_FILE, {
    what: "the report's test masks",
    hint,
    schema: MaskGallerySchema,
    expected: 'a list of test images with their masks',
  })) as StoredMaskOverlay[] | undefined;
}
