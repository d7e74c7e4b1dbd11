import tf from '../../tfjs.cjs';
import { chunk, prefetched, range, type BatchSource } from '../../data/batches.js';
import type { ImagePreprocessing } from '../../data/preprocess.js';
import type { SegmentationSplit } from '../../data/segmentation-folder.js';
import { inputImages } from '../../evaluate/explain-images.js';
import { maskOverlayPng } from '../../evaluate/mask-image.js';
import {
  PixelConfusion,
  perImageMeanIoU,
  segmentationScores,
  worstFirst,
} from '../../evaluate/segmentation-metrics.js';
import { perPixel, type LossKind } from '../../../plan/types.js';
import { batchLoss, IGNORED } from '../../train/loss.js';

/** Test images the report shows, worst mean IoU first. */
export const WORST_SHOWN = 6;

/** summary.json `test` of `task: segmentation`. */
export interface SegmentationTestMetrics {
  task: 'segmentation';
  /** Per-pixel cross-entropy over counted pixels, averaged over images. */
  loss: number;
  pixelAccuracy: number;
  /** The pixel accuracy again, under the name runs, compare and sweeps read for every task. */
  accuracy: number;
  /** Mean of the classes' IoU that have one (Keras' MeanIoU). */
  meanIoU: number;
  /** Each class by name: its IoU (null: in neither the truth nor the prediction) and its true pixels. */
  perClass: Record<string, { iou: number | null; pixels: number }>;
  /** Test images. */
  examples: number;
  /** The test images of lowest mean IoU, worst first. */
  worst: { example: string; meanIoU: number }[];
}

/** One of the worst test images as the report shows it: the truth and the prediction over the image (PNG each). */
export interface MaskOverlay {
  example: string;
  meanIoU: number;
  truth: Uint8Array;
  predicted: Uint8Array;
}

/**
 * The test split through the whole model: the confusion over every counted
 * pixel, each image's mean IoU, and the worst images drawn with their true
 * and predicted masks. Predicted masks are kept only for the worst (a class
 * byte per pixel) while the split streams by. The loss is the per-pixel
 * form of `lossKind`: a model folder outside a run has no plan, only a last
 * layer that gives probabilities or logits.
 */
export async function evaluateMasks(
  model: tf.LayersModel,
  source: BatchSource,
  lossKind: LossKind,
  classNames: readonly string[],
  names: readonly string[],
  batchSize: number,
): Promise<{ metrics: SegmentationTestMetrics; predicted: Map<number, Uint8Array>; perImage: number[] }> {
  const confusion = new PixelConfusion(classNames.length, IGNORED);
  const perImage: number[] = [];
  const predicted = new Map<number, Uint8Array>();
  let lossSum = 0;
  let counted = 0;
  const pixelLoss = perPixel(lossKind);
  for await (const { positions, x, y } of prefetched(source, chunk(range(0, source.count), batchSize))) {
    const [meanLoss, classes] = tf.tidy(() => {
      const pred = model.apply(x, { training: false }) as tf.Tensor;
      return [batchLoss(pixelLoss, y, pred).dataSync()[0]!, tf.argMax(pred, -1).dataSync()] as const;
    });
    const truth = y.dataSync();
    tf.dispose([x, y]);
    // A batch's loss is its mean over its counted pixels: weighted by them, the split's is the mean over every one.
    let pixelsCounted = 0;
    for (const t of truth) if (t !== IGNORED) pixelsCounted++;
    lossSum += meanLoss * pixelsCounted;
    counted += pixelsCounted;
    confusion.add(truth, classes);
    perImage.push(...perImageMeanIoU(truth, classes, positions.length, classNames.length, IGNORED));
    const pixels = classes.length / positions.length;
    positions.forEach((p, k) => predicted.set(p, Uint8Array.from(classes.subarray(k * pixels, (k + 1) * pixels))));
    // Only the worst stay: the rest of the predicted masks are dropped as soon as they cannot be among them.
    for (const p of worstFirst(perImage).slice(WORST_SHOWN)) predicted.delete(p);
  }
  const scores = segmentationScores(confusion);
  const worst = worstFirst(perImage).slice(0, WORST_SHOWN);
  return {
    metrics: {
      task: 'segmentation',
      loss: lossSum / Math.max(1, counted),
      pixelAccuracy: scores.pixelAccuracy,
      accuracy: scores.pixelAccuracy,
      meanIoU: scores.meanIoU,
      perClass: Object.fromEntries(
        classNames.map((name, c) => [name, { iou: scores.perClass[c]!.iou, pixels: scores.perClass[c]!.truePixels }]),
      ),
      examples: source.count,
      worst: worst.map((p) => ({ example: names[p]!, meanIoU: perImage[p]! })),
    },
    predicted,
    perImage,
  };
}

/** The worst test images with their true and predicted masks over them, for the report. */
export async function worstOverlays(
  split: SegmentationSplit,
  indexes: readonly number[],
  pre: ImagePreprocessing,
  evaluated: { metrics: SegmentationTestMetrics; predicted: Map<number, Uint8Array>; perImage: number[] },
  ignoreIndex: number | undefined,
): Promise<MaskOverlay[]> {
  const worst = worstFirst(evaluated.perImage).slice(0, WORST_SHOWN);
  if (worst.length === 0) return [];
  const { pixels, masks } = await split.pairs(worst.map((p) => indexes[p]!));
  const images = inputImages(pixels, pre);
  const size = masks.height * masks.width;
  const options = { ...(ignoreIndex !== undefined ? { ignoreIndex } : {}) };
  return Promise.all(
    worst.map(async (p, k) => {
      const image = images[k]!;
      const truth = { height: masks.height, width: masks.width, data: masks.data.subarray(k * size, (k + 1) * size) };
      const guess = { height: masks.height, width: masks.width, data: evaluated.predicted.get(p)! };
      return {
        example: split.name(indexes[p]!),
        meanIoU: evaluated.perImage[p]!,
        truth: await maskOverlayPng(image, truth, options),
        predicted: await maskOverlayPng(image, guess, options),
      };
    }),
  );
}
