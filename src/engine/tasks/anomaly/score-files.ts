import type { ImagePreprocessing } from '../../data/preprocess.js';
import {
  decodeFiles,
  joinedPixels,
  type Prediction,
  type PredictionFailure,
  type ImageInput,
} from '../../evaluate/predict.js';
import { scorePatches, type LoadedBank } from '../../anomaly/memory-bank.js';
import { patchesOfPixels, type PatchFeatureExtractor } from '../../anomaly/patch-features.js';
import { isAnomalous } from '../../anomaly/threshold.js';
import { throwIfAborted } from '../../errors.js';

/** Images decoded and scored at once. */
const FILES_PER_STEP = 32;

/**
 * Scores image files against an anomaly model's memory bank, each decoded
 * and prepared exactly as training prepared its images: its score (its most
 * anomalous patch's distance to the nearest normal one), the verdict at the
 * model's threshold, and its heat map (the patch scores on the grid). A
 * file that cannot be decoded is a failure; the others are scored.
 */
export async function scoreImageFiles(
  extractor: PatchFeatureExtractor,
  bank: LoadedBank,
  threshold: number,
  files: readonly ImageInput[],
  signal?: AbortSignal,
): Promise<{ predictions: Prediction[]; failures: PredictionFailure[] }> {
  const pre: ImagePreprocessing = extractor.preprocessing;
  const predictions: Prediction[] = [];
  const failures: PredictionFailure[] = [];
  const cells = extractor.grid[0] * extractor.grid[1];
  for (let start = 0; start < files.length; start += FILES_PER_STEP) {
    throwIfAborted(signal);
    const { decoded, failures: failed } = await decodeFiles(files.slice(start, start + FILES_PER_STEP), pre);
    failures.push(...failed);
    if (decoded.length === 0) continue;
    const patches = await patchesOfPixels(extractor, joinedPixels(decoded, pre), { signal });
    const scored = await scorePatches(bank, patches, extractor.grid, { signal });
    decoded.forEach(({ file }, i) => {
      const score = scored.imageScores[i]!;
      const anomalous = isAnomalous(score, { value: threshold });
      predictions.push({
        file,
        top: [{ label: anomalous ? 'anomalous' : 'normal', probability: 1 }],
        anomaly: {
          score,
          threshold,
          anomalous,
          heat: { grid: extractor.grid, values: Array.from(scored.patchScores.subarray(i * cells, (i + 1) * cells)) },
        },
      });
    });
  }
  return { predictions, failures };
}
