import tf from '../../tfjs.cjs';
import type { BatchSource } from '../../data/batches.js';
import type { LoadedDataset } from '../../data/dataset-types.js';
import type { ImagePreprocessing } from '../../data/preprocess.js';
import { pixelsTensor } from '../../data/preprocess.js';
import type { AugmentedPair } from '../../data/augment-masks.js';
import type { LoadedSegmentationDataset, SegmentationSplit } from '../../data/segmentation-folder.js';
import { IGNORED } from '../../train/loss.js';

export type JointAugment = (pixels: tf.Tensor4D, masks: tf.Tensor) => AugmentedPair;

/** A dataset read by the segmentation reader: its splits yield masks beside pixels. */
export function isSegmentationDataset(dataset: LoadedDataset): dataset is LoadedDataset & LoadedSegmentationDataset {
  return 'pixelCounts' in dataset;
}

/**
 * Images and their masks as model inputs and targets: x normalised as the
 * base expects, y the class index of every pixel [n, h, w] (int32), with
 * pixels the mask ignores set to IGNORED (what the loss and the metrics skip).
 * Training batches are augmented image and mask together.
 */
export function maskSource(
  split: SegmentationSplit,
  indexes: readonly number[],
  pre: ImagePreprocessing,
  ignoreIndex: number | undefined,
  augment?: JointAugment,
): BatchSource {
  return {
    count: indexes.length,
    batch: async (positions) => {
      const { pixels, masks } = await split.pairs(positions.map((p) => indexes[p]!));
      return tf.tidy(() => {
        const raw = pixelsTensor(pixels, pre.inputSize, pre.channels);
        const classes = tf.tensor3d(Int32Array.from(masks.data), [masks.count, masks.height, masks.width], 'int32');
        const pair = augment ? augment(raw, classes) : { pixels: raw, masks: classes };
        const y =
          ignoreIndex === undefined
            ? pair.masks
            : tf.where(tf.equal(pair.masks, ignoreIndex), tf.fill(pair.masks.shape, IGNORED, 'int32'), pair.masks);
        const x = tf.add(tf.mul(pair.pixels, tf.tensor1d(pre.scale)), tf.tensor1d(pre.offset));
        return { x, y };
      });
    },
  };
}
