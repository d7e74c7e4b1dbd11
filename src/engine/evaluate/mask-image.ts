import sharp from 'sharp';
import { thumbnailPng, type InputImage } from './heatmap-image.js';
import { classColour, IGNORED_COLOUR, MASK_OVERLAY_ALPHA } from '../../format/dataset-formats/mask-palette.js';

export { classColour, IGNORED_COLOUR };

/** Class indexes of one image, row-major height × width: a true or predicted mask. */
export interface ClassMask {
  height: number;
  width: number;
  data: Uint8Array;
}

/** `#rrggbb` of each class, for a legend beside the overlays. */
export function classColoursHex(numClasses: number): string[] {
  return Array.from(
    { length: numClasses },
    (_, c) =>
      `#${classColour(c)
        .map((v) => v.toString(16).padStart(2, '0'))
        .join('')}`,
  );
}

/** The mask as a one-channel PNG whose pixel values are the class indexes: the format tlpipe reads masks in. */
export async function maskPng(mask: ClassMask): Promise<Uint8Array> {
  checkSize(mask, mask.data.length);
  const png = await sharp(mask.data, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 9 })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

export interface OverlayOptions {
  /** How much of a class's colour covers the image, 0–1 (MASK_OVERLAY_ALPHA by default). */
  alpha?: number;
  /** Drawn in VOC's border colour; pixels of no class at all. */
  ignoreIndex?: number;
  /**
   * `display`: brought to a report's size (small masks enlarged without
   * smoothing, large ones reduced), as Grad-CAM overlays are; `full`: the
   * image's own pixels, for `predict --out`.
   */
  size?: 'display' | 'full';
}

/**
 * The mask drawn over its image: each pixel of class k > 0 mixed with k's
 * colour by `alpha`; the background (class 0) left as the image, so the
 * picture stays readable where nothing was found.
 */
export async function maskOverlayPng(
  image: InputImage,
  mask: ClassMask,
  options: OverlayOptions = {},
): Promise<Uint8Array> {
  if (mask.height !== image.height || mask.width !== image.width)
    throw new Error(`a ${mask.height}×${mask.width} mask over a ${image.height}×${image.width} image`);
  checkSize(mask, image.rgb.length / 3);
  const alpha = options.alpha ?? MASK_OVERLAY_ALPHA;
  const palette = new Map<number, [number, number, number]>();
  const colourOf = (value: number): [number, number, number] => {
    let colour = palette.get(value);
    if (!colour) palette.set(value, (colour = value === options.ignoreIndex ? IGNORED_COLOUR : classColour(value)));
    return colour;
  };
  const out = new Uint8Array(image.rgb.length);
  for (let p = 0; p < mask.data.length; p++) {
    const value = mask.data[p]!;
    const colour = colourOf(value);
    const a = value === 0 && value !== options.ignoreIndex ? 0 : alpha;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round((1 - a) * image.rgb[p * 3 + c]! + a * colour[c]!);
  }
  const blended = { height: image.height, width: image.width, rgb: out };
  if ((options.size ?? 'display') === 'display') return thumbnailPng(blended);
  const png = await sharp(out, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

function checkSize(mask: ClassMask, pixels: number): void {
  if (mask.height * mask.width !== pixels || mask.data.length !== pixels)
    throw new Error(`a ${mask.height}×${mask.width} mask with ${mask.data.length} values`);
}
