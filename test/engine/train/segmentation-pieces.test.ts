import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { jointAugmenter } from '../../../src/engine/data/augment-masks.js';
import { readSegmentationFolderDataset } from '../../../src/engine/data/segmentation-folder.js';
import { maskOverlayPng } from '../../../src/engine/evaluate/mask-image.js';
import { PixelConfusion, perImageMeanIoU, segmentationScores } from '../../../src/engine/evaluate/segmentation-metrics.js';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { SeededRandom } from '../../../src/engine/random.js';
import { pixelLoss } from '../../../src/engine/train/pixel-loss.js';

const TEXTURES = fileURLToPath(new URL('../../../../test/fixtures/segmentation/textures/', import.meta.url));
const SIZE = 16;

before(async () => {
  await selectBackend('cpu');
});

/**
 * The pieces as the segmentation task will join them, on the committed
 * texture mosaics: read pairs, augment them together, fit a tiny fully
 * convolutional net with the pixel loss, score it, draw a prediction.
 */
describe('segmentation pieces together', () => {
  it('a tiny conv net fitted with pixelLoss on jointly augmented mosaics lowers its loss; scores and an overlay follow', { timeout: 300_000 }, async () => {
    const data = await readSegmentationFolderDataset(
      {
        format: 'segmentationFolder',
        images: path.join(TEXTURES, 'images'),
        masks: path.join(TEXTURES, 'masks'),
        classes: ['brick', 'grass', 'gravel'],
        limit: {},
        validation: 0,
        testFraction: 0,
        onBadFile: 'error',
        image: { size: [SIZE, SIZE], channels: 3, fit: 'fill' },
      },
      { seed: 1, cacheBytes: 2 ** 24 },
    );
    const all = data.selection.train;
    const { pixels, masks } = await data.train.pairs(all);
    const x = tf.tensor4d(pixels.data, [pixels.count, SIZE, SIZE, 3], 'int32').toFloat();
    const y = tf.tensor3d(masks.data, [masks.count, SIZE, SIZE], 'int32');
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [SIZE, SIZE, 3],
          filters: 4,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        }),
        tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    const optimizer = tf.train.adam(0.003);
    const augment = jointAugmenter(
      { flipHorizontal: true, rotate: 10, zoom: 0, translate: 0, brightness: 0.05, contrast: 0 },
      new SeededRandom(1),
    );
    const lossOf = (images: tf.Tensor4D, truth: tf.Tensor): tf.Scalar =>
      pixelLoss('softmaxCrossEntropyFromLogits', truth, model.apply(tf.div(images, 255)) as tf.Tensor4D);
    const first = tf.tidy(() => lossOf(x as tf.Tensor4D, y).dataSync()[0]!);
    for (let step = 0; step < 20; step++) {
      const batch = augment(x as tf.Tensor4D, y);
      optimizer.minimize(() => lossOf(batch.pixels, batch.masks));
      tf.dispose([batch.pixels, batch.masks]);
    }
    const last = tf.tidy(() => lossOf(x as tf.Tensor4D, y).dataSync()[0]!);
    assert.ok(last < first, `loss ${first} → ${last}`);

    const predicted = tf.tidy(() => tf.argMax(model.predict(tf.div(x, 255)) as tf.Tensor4D, -1).dataSync());
    const scores = segmentationScores(new PixelConfusion(3).add(masks.data, predicted));
    const right = masks.data.filter((m, p) => m === predicted[p]).length;
    assert.equal(scores.pixelAccuracy, right / masks.data.length);
    assert.equal(scores.perClass.length, 3);
    const perImage = perImageMeanIoU(masks.data, predicted, masks.count, 3);
    assert.equal(perImage.length, masks.count);

    const png = await maskOverlayPng(
      { height: SIZE, width: SIZE, rgb: pixels.data.subarray(0, SIZE * SIZE * 3) },
      { height: SIZE, width: SIZE, data: Uint8Array.from(predicted.subarray(0, SIZE * SIZE)) },
    );
    assert.ok(png.length > 100);
  });
});
