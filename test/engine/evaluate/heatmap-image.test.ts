import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { heatColour, overlayPng, thumbnailPng } from '../../../src/engine/evaluate/heatmap-image.js';

const image = (height: number, width: number) => ({ height, width, rgb: new Uint8Array(height * width * 3).fill(100) });
const sizeOf = async (png: Uint8Array): Promise<[number, number]> => {
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  return [meta.width!, meta.height!];
};

describe('images a report and `tlpipe explain` show', () => {
  const cases: [name: string, make: () => Promise<Uint8Array>, size: [number, number]][] = [
    ['a 28×28 digit is enlarged by a whole factor', () => thumbnailPng(image(28, 28)), [140, 140]],
    ['a 64×48 input keeps its shape', () => thumbnailPng(image(64, 48)), [96, 128]],
    ['a 224×224 photo is reduced for a report', () => thumbnailPng(image(224, 224)), [128, 128]],
    [
      'an overlay in a report is reduced too',
      () =>
        overlayPng(image(224, 224), { classIndex: 0, height: 224, width: 224, values: new Float32Array(224 * 224) }),
      [128, 128],
    ],
    [
      'an overlay a person asked for keeps every pixel',
      () =>
        overlayPng(
          image(224, 224),
          { classIndex: 0, height: 224, width: 224, values: new Float32Array(224 * 224) },
          { reduce: false },
        ),
      [224, 224],
    ],
  ];
  for (const [name, make, size] of cases) it(name, async () => assert.deepEqual(await sizeOf(await make()), size));

  it('colours heat from dark blue (none) through green to dark red (most)', () => {
    assert.deepEqual(heatColour(0), [0, 0, 128]);
    assert.deepEqual(heatColour(0.5), [128, 255, 128]);
    assert.deepEqual(heatColour(1), [128, 0, 0]);
  });

  it('leaves a cold pixel as it is and colours a hot one', async () => {
    const values = new Float32Array([0, 1]);
    const png = await overlayPng(
      { height: 1, width: 2, rgb: Uint8Array.from([10, 20, 30, 10, 20, 30]) },
      { classIndex: 0, height: 1, width: 2, values },
      { reduce: false },
    );
    const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    // Enlarged ×64 without smoothing: the first pixel of each half.
    assert.deepEqual([...data.subarray(0, 3)], [10, 20, 30]);
    assert.deepEqual(
      [...data.subarray(64 * 3, 64 * 3 + 3)],
      [Math.round(0.35 * 10 + 0.65 * 128), Math.round(0.35 * 20), Math.round(0.35 * 30)],
    );
  });
});
