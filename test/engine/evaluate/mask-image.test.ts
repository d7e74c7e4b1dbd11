import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeMaskValues } from '../../../src/engine/data/segmentation-folder.js';
import {
  classColour,
  classColoursHex,
  IGNORED_COLOUR,
  maskOverlayPng,
  maskPng,
} from '../../../src/engine/evaluate/mask-image.js';

const DIGITS = fileURLToPath(new URL('../../../../test/fixtures/segmentation/digits/', import.meta.url));

async function raw(png: Uint8Array): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe('classColour', () => {
  it("is PASCAL VOC's palette", () => {
    const voc: [number, number, number][] = [
      [0, 0, 0],
      [128, 0, 0],
      [0, 128, 0],
      [128, 128, 0],
      [0, 0, 128],
      [128, 0, 128],
      [0, 128, 128],
      [128, 128, 128],
      [64, 0, 0],
      [192, 0, 0],
      [64, 128, 0],
    ];
    voc.forEach((colour, index) => assert.deepEqual(classColour(index), colour, `class ${index}`));
    assert.deepEqual(classColour(15), [192, 128, 128], 'person');
    assert.deepEqual(classColoursHex(3), ['#000000', '#800000', '#008000']);
  });
});

describe('maskPng', () => {
  it('writes a one-channel PNG of the class indexes that the mask reader reads back unchanged', async () => {
    const mask = { height: 3, width: 4, data: Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0]) };
    const png = await maskPng(mask);
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.channels, meta.width, meta.height], ['png', 1, 4, 3]);
    assert.deepEqual(new Uint8Array(await sharp(png).extractChannel(0).raw().toBuffer()), mask.data);
    const read = await decodeMaskValues(png, 11, undefined);
    assert.deepEqual(read.values, mask.data);
  });

  it('refuses a mask whose values do not fill its size', async () => {
    await assert.rejects(maskPng({ height: 2, width: 2, data: new Uint8Array(3) }), /a 2×2 mask with 3 values/);
  });
});

describe('maskOverlayPng', () => {
  // A 2×2 gray image: background, class 1, class 2, ignored.
  const image = { height: 2, width: 2, rgb: Uint8Array.from([100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100]) };
  const mask = { height: 2, width: 2, data: Uint8Array.from([0, 1, 2, 255]) };
  const blend = (colour: [number, number, number], alpha: number): number[] =>
    colour.map((c) => Math.round((1 - alpha) * 100 + alpha * c));

  const cases: { name: string; alpha?: number; expected: number[][] }[] = [
    {
      name: 'half and half by default; the background shows the image as it is',
      expected: [[100, 100, 100], blend([128, 0, 0], 0.5), blend([0, 128, 0], 0.5), blend(IGNORED_COLOUR, 0.5)],
    },
    {
      name: 'alpha 0.8',
      alpha: 0.8,
      expected: [[100, 100, 100], blend([128, 0, 0], 0.8), blend([0, 128, 0], 0.8), blend(IGNORED_COLOUR, 0.8)],
    },
  ];
  for (const c of cases)
    it(`${c.name} (full size)`, async () => {
      const png = await maskOverlayPng(image, mask, { ignoreIndex: 255, size: 'full', ...(c.alpha ? { alpha: c.alpha } : {}) });
      const back = await raw(png);
      assert.deepEqual([back.width, back.height, back.channels], [2, 2, 3]);
      assert.deepEqual([...back.data], c.expected.flat());
    });

  it('display size enlarges a small image without smoothing, so each mask pixel stays a block of one colour', async () => {
    const png = await maskOverlayPng(image, mask, { ignoreIndex: 255 });
    const back = await raw(png);
    assert.deepEqual([back.width, back.height], [128, 128]);
    const at = (x: number, y: number): number[] => [...back.data.subarray((y * 128 + x) * 3, (y * 128 + x) * 3 + 3)];
    assert.deepEqual(at(127, 0), blend([128, 0, 0], 0.5));
    assert.deepEqual(at(64, 0), blend([128, 0, 0], 0.5));
    assert.deepEqual(at(0, 127), blend([0, 128, 0], 0.5));
  });

  it('draws a real digit canvas with its mask', async () => {
    const { data, info } = await sharp(path.join(DIGITS, 'images', '0000.png'))
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const truth = await decodeMaskValues(await sharp(path.join(DIGITS, 'masks', '0000.png')).toBuffer(), 11, undefined);
    const png = await maskOverlayPng({ height: info.height, width: info.width, rgb: new Uint8Array(data) }, { ...truth, data: truth.values }, { size: 'full' });
    const back = await raw(png);
    for (let p = 0; p < truth.values.length; p++) {
      const k = truth.values[p]!;
      const expected = k === 0 ? [data[p * 3]!, data[p * 3 + 1]!, data[p * 3 + 2]!] : classColour(k).map((c, i) => Math.round(0.5 * data[p * 3 + i]! + 0.5 * c));
      assert.deepEqual([...back.data.subarray(p * 3, p * 3 + 3)], expected, `pixel ${p}`);
    }
  });

  it('refuses a mask of another size than its image', async () => {
    await assert.rejects(maskOverlayPng(image, { height: 1, width: 4, data: new Uint8Array(4) }), /a 1×4 mask over a 2×2 image/);
  });
});
