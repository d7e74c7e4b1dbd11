import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExampleGallery, GalleryImage } from '../engine/evaluate/example-gallery.js';
import { writeJsonAtomic } from './atomic-write.js';

/** examples.json: the test images report.html shows (thumbnails, Grad-CAM overlays), PNGs as base64, so the report can be rebuilt from the run folder alone. */
export const GALLERY_FILE = 'examples.json';

/** A gallery image as stored and as a report uses it: each PNG as base64. */
export type StoredGalleryImage = Omit<GalleryImage, 'png' | 'heat'> & { png: string; heat?: { predicted: string; actual: string } };
export interface StoredGallery { layer?: string; worst: StoredGalleryImage[]; perClass: { name: string; examples: StoredGalleryImage[] }[] }

const base64 = (png: Uint8Array): string => Buffer.from(png).toString('base64');
const stored = ({ png, heat, ...described }: GalleryImage): StoredGalleryImage => ({
  ...described,
  png: base64(png),
  ...(heat ? { heat: { predicted: base64(heat.predicted), actual: base64(heat.actual) } } : {}),
});

export function writeGallery(dir: string, gallery: ExampleGallery): Promise<void> {
  const value: StoredGallery = { ...(gallery.layer ? { layer: gallery.layer } : {}), worst: gallery.worst.map(stored), perClass: gallery.perClass.map((c) => ({ name: c.name, examples: c.examples.map(stored) })) };
  return writeJsonAtomic(path.join(dir, GALLERY_FILE), value);
}

/** A run's examples.json; undefined when it has none (no test split, tabular data, an older run) or it cannot be read. */
export async function readGallery(dir: string): Promise<StoredGallery | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, GALLERY_FILE), 'utf8')) as StoredGallery;
  } catch {
    // The report is still made without the images: they are a view, not a record.
    return undefined;
  }
}
