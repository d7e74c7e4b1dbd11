import { readdir } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import sharp from 'sharp';
import { UserError } from './errors.js';

/** Extensions sharp's prebuilt libvips decodes; matched case-insensitively. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'] as const;
/** Image formats people have that sharp's prebuilt binaries cannot read: counted and reported, never silently dropped. */
const UNSUPPORTED_IMAGE_EXTENSIONS = ['.bmp', '.heic', '.svg', '.ico'] as const;

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface FolderListing {
  /** Class names: the sub-folder names, sorted by code point so the order never depends on the OS. */
  classNames: string[];
  files: string[];
  labels: number[];
  /** Hidden files, non-images and unsupported formats, with why. */
  ignored: SkippedFile[];
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Lists `dir/<class>/**` image files. Hidden files and folders are ignored
 * and counted; so are non-image files. Files are sorted, so the listing (and
 * every split made from it) is independent of the file system's order.
 */
export async function listImageFolder(dir: string, keyPath: (string | number)[], classNames?: string[]): Promise<FolderListing> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? `folder not found: ${dir}` : code === 'ENOTDIR' ? `not a folder: ${dir}` : `cannot read folder ${dir}: ${(error as Error).message}`,
      keyPath,
      'an image folder has one sub-folder per class, e.g. data/flowers/daisy/*.jpg',
    );
  }
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(byCodePoint);
  const classes = classNames ?? folders;
  const ignored: SkippedFile[] = entries
    .filter((e) => !e.isDirectory() || e.name.startsWith('.'))
    .map((e) => ({ file: path.join(dir, e.name), reason: e.name.startsWith('.') ? 'hidden' : 'not inside a class folder' }));
  const missing = classes.filter((c) => !folders.includes(c));
  if (missing.length > 0) {
    throw new UserError(`no class folder for ${missing.map((m) => `\`${m}\``).join(', ')} in ${dir}`, keyPath, `class folders found: ${folders.join(', ') || 'none'}`);
  }
  if (classes.length < 2) {
    throw new UserError(`${dir} has ${classes.length} class folder${classes.length === 1 ? '' : 's'}; classification needs at least 2`, keyPath, 'put each class\'s images in its own sub-folder');
  }
  const files: string[] = [];
  const labels: number[] = [];
  for (const [label, name] of classes.entries()) {
    const classDir = path.join(dir, name);
    const all = (await fg('**/*', { cwd: classDir, dot: true, onlyFiles: true, followSymbolicLinks: true, suppressErrors: false })).sort(byCodePoint);
    let count = 0;
    for (const relative of all) {
      const file = path.join(classDir, relative);
      const extension = path.extname(relative).toLowerCase();
      if (relative.split('/').some((part) => part.startsWith('.'))) ignored.push({ file, reason: 'hidden' });
      else if ((IMAGE_EXTENSIONS as readonly string[]).includes(extension)) {
        files.push(file);
        labels.push(label);
        count++;
      } else if ((UNSUPPORTED_IMAGE_EXTENSIONS as readonly string[]).includes(extension)) {
        ignored.push({ file, reason: `${extension} images are not supported (convert to PNG or JPEG)` });
      } else ignored.push({ file, reason: 'not an image' });
    }
    if (count === 0) {
      throw new UserError(`class folder \`${name}\` has no images: ${classDir}`, keyPath, `supported: ${IMAGE_EXTENSIONS.join(' ')}`);
    }
  }
  return { classNames: classes, files, labels, ignored };
}

export type FitMode = 'fill' | 'cover' | 'contain';

/**
 * Decodes one encoded image to RGB uint8 at `size` ([height, width]). Alpha is
 * composited onto black, grayscale repeated to RGB, and for GIFs the first
 * frame is taken. fill stretches, cover crops the centre, contain pads with black.
 */
export async function decodeImage(encoded: Uint8Array, size: [number, number], fit: FitMode): Promise<Uint8Array> {
  if (encoded.length === 0) throw new Error('empty file (0 bytes)');
  const { data } = await sharp(encoded, { failOn: 'truncated', pages: 1 })
    .rotate() // honour EXIF orientation, as photo viewers do
    .resize({ height: size[0], width: size[1], fit, position: 'centre', background: { r: 0, g: 0, b: 0 } })
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (data.length !== size[0] * size[1] * 3) throw new Error(`decoded to ${data.length} bytes, expected ${size[0] * size[1] * 3}`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Width and height from the header, without decoding; for the dataset report. */
export async function imageDimensions(file: string): Promise<{ width: number; height: number } | undefined> {
  try {
    const meta = await sharp(file).metadata();
    return meta.width && meta.height ? { width: meta.width, height: meta.height } : undefined;
  } catch {
    return undefined;
  }
}
