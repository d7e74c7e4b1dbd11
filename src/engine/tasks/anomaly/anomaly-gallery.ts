import tf from '../../tfjs.cjs';
import type { SplitData } from '../../data/dataset-types.js';
import type { ImagePreprocessing } from '../../data/preprocess.js';
import type { AnomalyScores } from '../../anomaly/memory-bank.js';
import type { ScoredImage } from '../../evaluate/example-gallery.js';
import { inputImages } from '../../evaluate/explain-images.js';
import { overlayPng, thumbnailPng } from '../../evaluate/heatmap-image.js';
import type { AnomalyTestMetrics } from './evaluate-anomaly.js';

/**
 * The misjudged test images as a report shows them: each image, and its
 * patch scores drawn over it (resized bilinearly to the image), scaled so
 * the threshold is the middle of the colour ramp — red is past it.
 */
export async function anomalyGallery(
  test: AnomalyTestMetrics,
  scores: AnomalyScores,
  split: SplitData,
  indexes: readonly number[],
  pre: ImagePreprocessing,
): Promise<ScoredImage[]> {
  const names = indexes.map((i) => split.name(i));
  // Each shown image with its own entry: a name the split does not have is left out, and its caption with it.
  const shown = test.worst.flatMap((worst) => {
    const position = names.indexOf(worst.example);
    return position >= 0 ? [{ worst, position }] : [];
  });
  if (shown.length === 0) return [];
  const images = inputImages(await split.pixels(shown.map((s) => indexes[s.position]!)), pre);
  const [height, width] = pre.inputSize;
  const cells = scores.grid[0] * scores.grid[1];
  const scale = 2 * test.atThreshold.threshold;
  return Promise.all(
    shown.map(async ({ worst, position }, k) => {
      const values = tf.tidy(() => {
        const grid = tf.tensor4d(scores.patchScores.subarray(position * cells, (position + 1) * cells), [
          1,
          ...scores.grid,
          1,
        ]);
        return tf
          .clipByValue(tf.div(tf.image.resizeBilinear(grid, [height, width]), scale > 0 ? scale : 1), 0, 1)
          .dataSync() as Float32Array;
      });
      return {
        example: worst.example,
        actual: worst.actual,
        anomalous: worst.anomalous,
        score: worst.score,
        png: await thumbnailPng(images[k]!),
        heat: await overlayPng(images[k]!, { classIndex: 0, height, width, values }),
      };
    }),
  );
}
