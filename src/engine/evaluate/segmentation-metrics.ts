/**
 * Segmentation metrics from a pixel confusion matrix, defined as Keras'
 * `MeanIoU` (and `IoU`) define them: per class IoU = TP / (TP + FP + FN)
 * with rows the true class and columns the predicted one; pixels whose true
 * value is `ignoreIndex` are left out (Keras' `ignore_class`); a class that
 * is in neither the truth nor the prediction has no IoU and is left out of
 * the mean (Keras counts only classes whose denominator is not zero).
 */

/** A square matrix of pixel counts, [actual][predicted], accumulated batch by batch. */
export class PixelConfusion {
  /** Row-major numClasses × numClasses; float64 so counts past 2^32 stay exact. */
  readonly counts: Float64Array;

  constructor(
    readonly numClasses: number,
    readonly ignoreIndex?: number,
  ) {
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /** Adds one batch: `actual` and `predicted` class indexes, pixel for pixel (any number of images). */
  add(actual: ArrayLike<number>, predicted: ArrayLike<number>): this {
    if (actual.length !== predicted.length)
      throw new Error(`${actual.length} true pixels against ${predicted.length} predicted`);
    const n = this.numClasses;
    for (let p = 0; p < actual.length; p++) {
      const a = actual[p]!;
      if (a === this.ignoreIndex) continue;
      const q = predicted[p]!;
      if (a >= n || q >= n || a < 0 || q < 0) throw new Error(`class ${a >= n || a < 0 ? a : q} at pixel ${p}; ${n} classes`);
      this.counts[a * n + q]!++;
    }
    return this;
  }

  /** The matrix as rows, for summary.json. */
  rows(): number[][] {
    const n = this.numClasses;
    return Array.from({ length: n }, (_, a) => Array.from(this.counts.subarray(a * n, (a + 1) * n)));
  }
}

export interface ClassIoU {
  /** Null when the class is in neither the truth nor the prediction: it has no IoU. */
  iou: number | null;
  /** Pixels of this class in the truth (counted, not ignored). */
  truePixels: number;
  predictedPixels: number;
}

export interface SegmentationScores {
  /** Counted pixels predicted right / counted pixels; 0 when none was counted. */
  pixelAccuracy: number;
  /** Mean of the classes that have an IoU; 0 when none has. */
  meanIoU: number;
  perClass: ClassIoU[];
  /** Pixels that counted: all but those whose truth is ignoreIndex. */
  pixels: number;
}

/** Every score of a confusion matrix. */
export function segmentationScores(confusion: PixelConfusion): SegmentationScores {
  const n = confusion.numClasses;
  const at = (a: number, q: number): number => confusion.counts[a * n + q]!;
  let total = 0;
  let correct = 0;
  const perClass: ClassIoU[] = [];
  for (let c = 0; c < n; c++) {
    let truePixels = 0;
    let predictedPixels = 0;
    for (let k = 0; k < n; k++) {
      truePixels += at(c, k);
      predictedPixels += at(k, c);
    }
    const union = truePixels + predictedPixels - at(c, c);
    perClass.push({ iou: union > 0 ? at(c, c) / union : null, truePixels, predictedPixels });
    total += truePixels;
    correct += at(c, c);
  }
  const present = perClass.flatMap((c) => (c.iou === null ? [] : [c.iou]));
  return {
    pixelAccuracy: total > 0 ? correct / total : 0,
    meanIoU: present.length > 0 ? present.reduce((a, b) => a + b, 0) / present.length : 0,
    perClass,
    pixels: total,
  };
}

/**
 * Mean IoU of each image on its own, for finding the worst: `actual` and
 * `predicted` hold `count` images of `pixelsPerImage` pixels each.
 */
export function perImageMeanIoU(
  actual: ArrayLike<number>,
  predicted: ArrayLike<number>,
  count: number,
  numClasses: number,
  ignoreIndex?: number,
): number[] {
  const pixelsPerImage = actual.length / count;
  if (!Number.isInteger(pixelsPerImage)) throw new Error(`${actual.length} pixels do not make ${count} images`);
  return Array.from({ length: count }, (_, i) => {
    const from = i * pixelsPerImage;
    const slice = (values: ArrayLike<number>) => Array.prototype.slice.call(values, from, from + pixelsPerImage) as number[];
    return segmentationScores(new PixelConfusion(numClasses, ignoreIndex).add(slice(actual), slice(predicted))).meanIoU;
  });
}

/** Positions of the images from the lowest mean IoU to the highest (ties by position): the report's worst first. */
export function worstFirst(scores: readonly number[]): number[] {
  return scores.map((_, i) => i).sort((x, y) => scores[x]! - scores[y]! || x - y);
}
