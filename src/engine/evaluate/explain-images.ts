import tf from '../tfjs.cjs';
import { UserError } from '../../diagnostics/user-error.js';
import type { PixelBatch } from '../data/dataset-types.js';
import { asRgb, imageBatch, pixelsTensor, type ImagePreprocessing, type Preprocessing } from '../data/preprocess.js';
import { GradCam, explanationLayer, type ClassHeatmap } from './grad-cam.js';
import type { InputImage } from './heatmap-image.js';
import { argMax } from './metrics.js';
import { decodeFiles, joinedPixels, rankedClasses, type PredictionFailure, type ImageInput } from './predict.js';

/** Images explained per Grad-CAM pass: each holds the model's activations and their gradients. */
const EXPLAIN_BATCH = 8;

/** One image: the classes the model gives it, and a map per class explained. */
export interface ImageExplanation {
  file: string;
  /** Best first. */
  top: { label: string; probability: number }[];
  /** The image as the model saw it (before normalisation). */
  image: InputImage;
  maps: { label: string; probability: number; why: 'predicted' | 'asked'; heatmap: ClassHeatmap }[];
}

/**
 * Grad-CAM maps for image files with an exported model: one for the class
 * it predicts and one for each class in `ask` (by index), at `layer` (the
 * last spatial layer unless named). A file that cannot be decoded is a
 * failure, and the others are explained.
 */
export async function explainImages(
  model: tf.LayersModel,
  labels: string[],
  pre: Preprocessing,
  outputs: 'probabilities' | 'logits',
  files: readonly ImageInput[],
  options: { top: number; ask: readonly number[]; layer?: string },
): Promise<{ layer: string; explanations: ImageExplanation[]; failures: PredictionFailure[] }> {
  if (pre.kind !== 'image')
    throw new UserError('this run was trained on tabular rows, not images: there is nothing to draw a map on');
  const layer = explanationLayer(model, options.layer);
  const cam = new GradCam(model, layer);
  const explanations: ImageExplanation[] = [];
  const failures: PredictionFailure[] = [];
  for (let start = 0; start < files.length; start += EXPLAIN_BATCH) {
    const { decoded, failures: failed } = await decodeFiles(files.slice(start, start + EXPLAIN_BATCH), pre);
    failures.push(...failed);
    if (decoded.length === 0) continue;
    const pixels = joinedPixels(decoded, pre);
    const x = imageBatch(pixels, pre);
    try {
      const probabilities = tf.tidy(() => {
        const y = model.predict(x) as tf.Tensor;
        return (outputs === 'logits' ? tf.softmax(y) : y).arraySync() as number[][];
      });
      const images = inputImages(pixels, pre);
      const wanted = probabilities.map((p) => [...new Set([argMax(p), ...options.ask])]);
      // One pass per position in the wanted lists: the predicted class first, then each asked class.
      const perImage: ClassHeatmap[][] = decoded.map(() => []);
      for (let k = 0; k < Math.max(...wanted.map((w) => w.length)); k++) {
        const rows = wanted
          .map((w, i) => ({ i, c: w[k] }))
          .filter((r): r is { i: number; c: number } => r.c !== undefined);
        const subset = tf.gather(
          x,
          rows.map((r) => r.i),
        );
        cam
          .maps(
            subset,
            rows.map((r) => r.c),
          )
          .forEach((map, j) => perImage[rows[j]!.i]!.push(map));
        subset.dispose();
      }
      decoded.forEach((d, i) => {
        const p = probabilities[i]!;
        explanations.push({
          file: d.file,
          top: rankedClasses(p, labels).slice(0, options.top),
          image: images[i]!,
          maps: perImage[i]!.map((heatmap, k) => ({
            label: labels[heatmap.classIndex] ?? String(heatmap.classIndex),
            probability: p[heatmap.classIndex]!,
            why: k === 0 ? 'predicted' : 'asked',
            heatmap,
          })),
        });
      });
    } finally {
      x.dispose();
    }
  }
  return { layer, explanations, failures };
}

/** Each image of a batch as the model sees it before normalisation: resized, in its channels, as RGB bytes for display. */
export function inputImages(batch: PixelBatch, pre: ImagePreprocessing): InputImage[] {
  const [height, width] = pre.inputSize;
  // The tensor leaves tidy, not its values: tidy walks whatever it returns, element by element (0.7 s at 224×224).
  const shown = tf.tidy(() => {
    const seen = pixelsTensor(batch, pre.inputSize, pre.channels);
    const rgb = pre.channels === 1 ? asRgb(seen) : seen;
    return tf.clipByValue(tf.round(rgb), 0, 255);
  });
  const bytes = shown.dataSync();
  shown.dispose();
  const size = height * width * 3;
  return Array.from({ length: batch.count }, (_, i) => ({
    height,
    width,
    rgb: Uint8Array.from(bytes.subarray(i * size, (i + 1) * size)),
  }));
}
