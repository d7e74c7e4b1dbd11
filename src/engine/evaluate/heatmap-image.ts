import sharp from 'sharp';
import type { ClassHeatmap } from './grad-cam.js';

/** RGB pixels of one image at the model's input size, as the model saw it before normalisation. */
export interface InputImage {
  height: number;
  width: number;
  /** height × width × 3 bytes. */
  rgb: Uint8Array;
}

/** Small inputs (28×28 digits, 64×64) are enlarged to at least this many pixels on their longer side, so a person can see them. */
const MIN_DISPLAY = 128;

/**
 * A colour for a heat value in 0–1, from dark blue through green and
 * yellow to red (a jet-like ramp): the usual reading of a Grad-CAM map.
 */
export function heatColour(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, v));
  const channel = (centre: number): number => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - centre))));
  return [channel(3), channel(2), channel(1)];
}

/** The image as a PNG, enlarged without smoothing (pixels stay pixels). */
export function thumbnailPng(image: InputImage): Promise<Uint8Array> {
  return encode(image.rgb, image);
}

/**
 * The image with the heat drawn over it: each pixel mixed with its heat's
 * colour in proportion to the heat, so cold regions show the image as it is.
 */
export function overlayPng(image: InputImage, map: ClassHeatmap): Promise<Uint8Array> {
  if (map.height !== image.height || map.width !== image.width) throw new Error(`a ${map.height}×${map.width} map over a ${image.height}×${image.width} image`);
  const out = new Uint8Array(image.rgb.length);
  for (let p = 0; p < map.values.length; p++) {
    const heat = map.values[p]!;
    const colour = heatColour(heat);
    const alpha = 0.65 * heat;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round((1 - alpha) * image.rgb[p * 3 + c]! + alpha * colour[c]!);
  }
  return encode(out, image);
}

async function encode(rgb: Uint8Array, size: { height: number; width: number }): Promise<Uint8Array> {
  const factor = Math.max(1, Math.ceil(MIN_DISPLAY / Math.max(size.height, size.width)));
  const png = await sharp(rgb, { raw: { width: size.width, height: size.height, channels: 3 } })
    .resize({ width: size.width * factor, height: size.height * factor, kernel: 'nearest' })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
