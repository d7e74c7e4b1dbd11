import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { ExampleGallery, GalleryImage, ScoredImage } from '../engine/evaluate/example-gallery.js';
import { writeJsonAtomic } from './atomic-write.js';
import { readShapedJsonIfPresent } from './read-back-shape.js';
import { relativePath } from './relative-paths.js';

/** examples.json: the test images report.html shows (thumbnails, Grad-CAM overlays), PNGs as base64, so the report can be rebuilt from the run folder alone. */
export const GALLERY_FILE = 'examples.json';

/** A gallery image as stored and as a report uses it: each PNG as base64. */
export type StoredGalleryImage = Omit<GalleryImage, 'png' | 'heat'> & {
  png: string;
  heat?: { predicted: string; actual: string };
};
/** An anomaly model's misjudged test image as stored: both PNGs as base64. */
export type StoredScoredImage = Omit<ScoredImage, 'png' | 'heat'> & { png: string; heat: string };

export interface StoredGallery {
  layer?: string;
  scored?: StoredScoredImage[];
  worst: StoredGalleryImage[];
  perClass: { name: string; examples: StoredGalleryImage[] }[];
}

const base64 = (png: Uint8Array): string => Buffer.from(png).toString('base64');
const stored = ({ png, heat, ...described }: GalleryImage): StoredGalleryImage => ({
  ...described,
  png: base64(png),
  ...(heat ? { heat: { predicted: base64(heat.predicted), actual: base64(heat.actual) } } : {}),
});

/** Writes examples.json, each example's file named relative to `pipelineDir` (the pipeline file's folder; default the run folder). */
export function writeGallery(dir: string, gallery: ExampleGallery, pipelineDir = dir): Promise<void> {
  const kept = (image: GalleryImage): StoredGalleryImage => ({
    ...stored(image),
    example: relativePath(image.example, pipelineDir),
  });
  const value: StoredGallery = {
    ...(gallery.layer ? { layer: gallery.layer } : {}),
    ...(gallery.scored
      ? {
          scored: gallery.scored.map(({ png, heat, ...described }) => ({
            ...described,
            example: relativePath(described.example, pipelineDir),
            png: base64(png),
            heat: base64(heat),
          })),
        }
      : {}),
    worst: gallery.worst.map(kept),
    perClass: gallery.perClass.map((c) => ({ name: c.name, examples: c.examples.map(kept) })),
  };
  return writeJsonAtomic(path.join(dir, GALLERY_FILE), value);
}

/** A PNG as base64 and nothing else: it goes into the report's HTML as it is. */
const Base64 = Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$' });
const Probability = Type.Union([Type.Number(), Type.Null()]);
const StoredImage = Type.Object({
  example: Type.String(),
  actual: Type.String(),
  predicted: Type.String(),
  probabilityOfActual: Probability,
  probabilityOfPredicted: Probability,
  png: Base64,
  heat: Type.Optional(Type.Object({ predicted: Base64, actual: Base64 })),
});
export const GallerySchema = Type.Object({
  layer: Type.Optional(Type.String()),
  scored: Type.Optional(
    Type.Array(
      Type.Object({
        example: Type.String(),
        actual: Type.String(),
        anomalous: Type.Boolean(),
        score: Type.Number(),
        png: Base64,
        heat: Base64,
      }),
    ),
  ),
  worst: Type.Array(StoredImage),
  perClass: Type.Array(Type.Object({ name: Type.String(), examples: Type.Array(StoredImage) })),
});

/**
 * A run's examples.json; undefined when it has none (no test split, tabular
 * data, an older run). Read back bounded and confined; one that is damaged
 * (not JSON, another shape, a FIFO) is a user error naming it: the report
 * can be rebuilt without it once it is removed.
 */
export async function readGallery(dir: string): Promise<StoredGallery | undefined> {
  const file = path.join(dir, GALLERY_FILE);
  const hint = `examples.json was damaged or edited by hand; remove it (rm ${file}) to rebuild the report without its images`;
  return (await readShapedJsonIfPresent(dir, GALLERY_FILE, {
    what: "the report's example images",
    hint,
    schema: GallerySchema,
    expected: 'a gallery of example images (an object with worst and perClass)',
  })) as StoredGallery | undefined;
}
