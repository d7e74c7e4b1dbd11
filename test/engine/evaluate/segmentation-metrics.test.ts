import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  PixelConfusion,
  perImageMeanIoU,
  segmentationScores,
  worstFirst,
} from '../../../src/engine/evaluate/segmentation-metrics.js';

const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual}, expected ${expected}`);

describe('segmentationScores, by hand', () => {
  const cases: {
    name: string;
    classes: number;
    ignoreIndex?: number;
    actual: number[];
    predicted: number[];
    perClass: (number | null)[];
    meanIoU: number;
    pixelAccuracy: number;
  }[] = [
    {
      // Keras' MeanIoU docstring: cm [[1, 1], [1, 1]] → (1/3 + 1/3) / 2.
      name: "Keras' own example",
      classes: 2,
      actual: [0, 0, 1, 1],
      predicted: [0, 1, 0, 1],
      perClass: [1 / 3, 1 / 3],
      meanIoU: 1 / 3,
      pixelAccuracy: 0.5,
    },
    {
      name: 'a class in neither truth nor prediction has no IoU and is left out of the mean',
      classes: 3,
      actual: [0, 0, 1, 1],
      predicted: [0, 0, 1, 0],
      perClass: [2 / 3, 1 / 2, null],
      meanIoU: (2 / 3 + 1 / 2) / 2,
      pixelAccuracy: 3 / 4,
    },
    {
      name: 'a class only predicted has IoU 0 and counts in the mean',
      classes: 2,
      actual: [0, 0],
      predicted: [0, 1],
      perClass: [1 / 2, 0],
      meanIoU: 1 / 4,
      pixelAccuracy: 1 / 2,
    },
    {
      name: 'pixels whose truth is ignoreIndex count nowhere, whatever was predicted',
      classes: 3,
      ignoreIndex: 255,
      actual: [0, 255, 1, 2],
      predicted: [0, 1, 1, 1],
      perClass: [1, 1 / 2, 0],
      meanIoU: 1 / 2,
      pixelAccuracy: 2 / 3,
    },
    {
      name: 'an ignoreIndex that is a class (the background) leaves its pixels out, not its predictions',
      classes: 2,
      ignoreIndex: 0,
      actual: [0, 1, 1],
      predicted: [1, 1, 0],
      perClass: [0, 1 / 2],
      meanIoU: 1 / 4,
      pixelAccuracy: 1 / 2,
    },
    {
      name: 'nothing counted: no IoU anywhere, scores 0',
      classes: 2,
      ignoreIndex: 255,
      actual: [255, 255],
      predicted: [0, 1],
      perClass: [null, null],
      meanIoU: 0,
      pixelAccuracy: 0,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const scores = segmentationScores(new PixelConfusion(c.classes, c.ignoreIndex).add(c.actual, c.predicted));
      c.perClass.forEach((iou, k) =>
        iou === null ? assert.equal(scores.perClass[k]!.iou, null) : close(scores.perClass[k]!.iou!, iou, `class ${k}`),
      );
      close(scores.meanIoU, c.meanIoU, 'mean IoU');
      close(scores.pixelAccuracy, c.pixelAccuracy, 'pixel accuracy');
    });

  it('accumulated batch by batch equals all at once; the rows are [actual][predicted]', () => {
    const actual = Uint8Array.from([0, 1, 2, 2, 1, 0, 255, 2]);
    const predicted = Uint8Array.from([0, 2, 2, 1, 1, 0, 0, 2]);
    const whole = new PixelConfusion(3, 255).add(actual, predicted);
    const batched = new PixelConfusion(3, 255).add(actual.subarray(0, 3), predicted.subarray(0, 3));
    batched.add(actual.subarray(3), predicted.subarray(3));
    assert.deepEqual(batched.rows(), whole.rows());
    assert.deepEqual(whole.rows(), [
      [2, 0, 0],
      [0, 1, 1],
      [0, 1, 2],
    ]);
    const scores = segmentationScores(whole);
    assert.equal(scores.pixels, 7);
    assert.deepEqual(
      scores.perClass.map((c) => [c.truePixels, c.predictedPixels]),
      [
        [2, 2],
        [2, 2],
        [3, 3],
      ],
    );
  });

  const refused: { name: string; run: () => unknown; message: RegExp }[] = [
    { name: 'unequal lengths', run: () => new PixelConfusion(2).add([0, 1], [0]), message: /2 true pixels against 1 predicted/ },
    { name: 'a class past the last', run: () => new PixelConfusion(2).add([0, 2], [0, 0]), message: /class 2 at pixel 1; 2 classes/ },
    { name: 'a prediction past the last', run: () => new PixelConfusion(2).add([0, 1], [0, 5]), message: /class 5 at pixel 1/ },
  ];
  for (const c of refused) it(`refuses ${c.name}`, () => assert.throws(c.run, c.message));
});

describe('perImageMeanIoU and worstFirst', () => {
  it('scores each image on its own and orders the worst first', () => {
    // Three 2×2 images of 2 classes: perfect; half wrong (1/3 each); all background predicted for a half-object image.
    const actual = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1];
    const predicted = [0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0];
    const scores = perImageMeanIoU(actual, predicted, 3, 2);
    close(scores[0]!, 1, 'perfect');
    close(scores[1]!, 1 / 3, 'half wrong');
    close(scores[2]!, (2 / 4 + 0) / 2, 'object missed');
    assert.deepEqual(worstFirst(scores), [2, 1, 0]);
  });

  it('leaves ignored pixels out of each image and breaks ties by position', () => {
    const scores = perImageMeanIoU([255, 1, 255, 1], [0, 1, 1, 1], 2, 2, 255);
    assert.deepEqual(scores, [1, 1]);
    assert.deepEqual(worstFirst(scores), [0, 1]);
  });
});
