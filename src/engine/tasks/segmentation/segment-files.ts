import tf from '../../tfjs.cjs';
import type { ImagePreprocessing } from '../../data/preprocess.js';
import { imageBatch } from '../../data/preprocess.js';
import type { ClassMask } from '../../evaluate/mask-image.js';
import { decodeFiles, joinedPixels, type PredictionFailure, type ImageInput } from '../../evaluate/predict.js';

/** One image segmented: the class of every pixel at the model's input size, and each class's share of the pixels. */
export interface Segmentation {
  file: string;
  /** Class indexes, in labels.json's order, one byte per pixel, row-major at the model's input size (as the image was prepared). */
  mask: ClassMask;
  /** Each class by name: its fraction of the image's pixels (they sum to 1). */
  fractions: Record<string, number>;
}

const BATCH = 8;

/** Whether an exported model gives a class score per pixel ([n, h, w, classes]) rather than per image. */
export const segmentsPixels = (model: tf.LayersModel): boolean => model.outputs[0]!.shape.length === 4;

/**
 * Image files through a segmentation model, prepared as training prepared
 * its images: each pixel's most likely class. A file that cannot be read or
 * decoded is a failure; the others are still segmented.
 */
export async function segmentImageFiles(
  model: tf.LayersModel,
  labels: readonly string[],
  pre: ImagePreprocessing,
  files: readonly ImageInput[],
): Promise<{ segmentations: Segmentation[]; failures: PredictionFailure[] }> {
  const segmentations: Segmentation[] = [];
  const failures: PredictionFailure[] = [];
  const [height, width] = pre.inputSize;
  const size = height * width;
  for (let start = 0; start < files.length; start += BATCH) {
    const { decoded, failures: failed } = await decodeFiles(files.slice(start, start + BATCH), pre);
    failures.push(...failed);
    if (decoded.length === 0) continue;
    const classes = tf.tidy(() => {
      const scores = model.predict(imageBatch(joinedPixels(decoded, pre), pre)) as tf.Tensor4D;
      // Both a softmax and its logits have their largest score at the same class.
      return tf.argMax(scores, -1).dataSync();
    });
    decoded.forEach(({ file }, i) => {
      const data = Uint8Array.from(classes.subarray(i * size, (i + 1) * size));
      const counts = new Array<number>(labels.length).fill(0);
      for (const c of data) counts[c]!++;
      segmentations.push({
        file,
        mask: { height, width, data },
        fractions: Object.fromEntries(labels.map((label, c) => [label, counts[c]! / size])),
      });
    });
  }
  return { segmentations, failures };
}
