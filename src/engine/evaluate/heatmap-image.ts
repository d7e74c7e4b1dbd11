import sharp from 'sharp';
import type { ClassHeatmap } from './grad-cam.js';

/** RGB pixels of one image at the model's input size, as the model saw it before normalisation. */
export interface InputImage {
  height: number;
  width: number;
  /** height × width × 3 bytes. */
  rgb: Uint8Array;
}

/**
 * The longer side of a shown image: small inputs (28×28 digits, 64×64) are
 * enlarged to about this without smoothing, so a person can see them; large
 * ones (224×224 photos) are made this small, so a report of dozens of
 * images stays a few hundred kilobytes.
 */
const DISPLAY = 128;

/**
 * A colour for a heat value in 0–1, from dark blue through green and
 * yellow to red (a jet-like ramp): the usual reading of a Grad-CAM map.
 */
export function heatColour(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v));
  const channel = (centre: number): number =>
    Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - centre))));
  return [channel(3), channel(2), channel(1)];
}

/** The image as a PNG at display size. */
export function thumbnailPng(image: InputImage): Promise<Uint8Array> {
  return encode(image.rgb, image, true);
}

/**
 * The image with the heat drawn over it: each pixel mixed with its heat's
 * colour in proportion to the heat, so cold regions show the image as it is.
 */
export function overlayPng(
  image: InputImage,
  map: ClassHeatmap,
  options: { reduce: boolean } = { reduce: true },
): Promise<Uint8Array> {
  if (map.height !== image.height || map.width !== image.width)
    throw new Error(`a ${map.height}×${map.width} map over a ${image.height}×${image.width} image`);
  const out = new Uint8Array(image.rgb.length);
  for (let p = 0; p < map.values.length; p++) {
    const heat = map.values[p]!;
    const colour = heatColour(heat);
    const alpha = 0.65 * heat;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round((1 - alpha) * image.rgb[p * 3 + c]! + alpha * colour[c]!);
  }
  return encode(out, image, options.reduce);
}

/** `reduce`: a large image is made display-sized (a report's many images); else it keeps its pixels (an overlay a person asked for). */
async function encode(rgb: Uint8Array, size: { height: number; width: number }, reduce: boolean): Promise<Uint8Array> {
  const longer = Math.max(size.height, size.width);
  let image = sharp(rgb, { raw: { width: size.width, height: size.height, channels: 3 } });
  // Enlarged by a whole factor without smoothing (pixels stay pixels), or reduced with smoothing.
  if (longer < DISPLAY)
    image = image.resize({
      width: size.width * Math.ceil(DISPLAY / longer),
      height: size.height * Math.ceil(DISPLAY / longer),
      kernel: 'nearest',
    });
  else if (reduce)
    image = image.resize({
      width: Math.round((size.width * DISPLAY) / longer),
      height: Math.round((size.height * DISPLAY) / longer),
      kernel: 'lanczos3',
    });
  const png = await image.png({ compressionLevel: 9 }).toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
