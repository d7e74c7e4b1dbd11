import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { maskPng } from '../engine/evaluate/mask-image.js';
import { collectImageFiles, type Prediction, type PredictionFailure } from '../engine/evaluate/predict.js';
import { preparedImages } from '../engine/evaluate/exported-model.js';
import { segmentImageFiles, type Segmentation } from '../engine/tasks/segmentation/segment-files.js';
import { makeDirs } from '../platform/make-dirs.js';
import { writeFileAtomic } from '../store/atomic-write.js';
import { overlayNames } from './explain.js';
import type { LoadedModel, OpenedModel } from './load-model.js';

export type { Segmentation } from '../engine/tasks/segmentation/segment-files.js';

/**
 * A segmentation model (its output a class score per pixel) as a
 * LoadedModel: segment() gives each image's mask and class fractions;
 * classify() — what `predict` calls — ranks the classes by their share of
 * the image.
 */
export function segmenterOf(opened: OpenedModel): LoadedModel {
  const { model, exported, outputs } = opened;
  const pre = exported.preprocessing;
  const segment: LoadedModel['segment'] = async (inputs) => {
    if (pre.kind !== 'image') throw new UserError('this run was trained on tabular rows, not images');
    const collected = await collectImageFiles(inputs);
    const segmented = await segmentImageFiles(model, exported.labels, pre, collected.files);
    return { segmentations: segmented.segmentations, failures: [...collected.failures, ...segmented.failures] };
  };
  return {
    task: 'segmentation',
    model,
    labels: exported.labels,
    preprocessing: pre,
    outputs,
    preprocess: (images) => preparedImages(images, pre),
    segment,
    classify: async (inputs, options = {}) => {
      const { segmentations, failures } = await segment(inputs);
      return { predictions: segmentations.map((s) => asPrediction(s, options.top ?? 3)), failures };
    },
    score: () =>
      Promise.reject(
        new UserError('this model segments; score() is for anomaly models (task: anomaly)', [], 'use segment()'),
      ),
    predict: () =>
      Promise.reject(new UserError('a segmentation model segments images, not table rows', [], 'use segment()')),
    explain: () =>
      Promise.reject(
        new UserError(
          'a segmentation model shows its answer as a mask, not a Grad-CAM map',
          [],
          'use segment(), or `tlpipe predict <run> <images> --out DIR` for mask PNGs',
        ),
      ),
    dispose: () => model.dispose(),
  };
}

/** A segmentation as `predict` prints it: the classes by their share of the image, most first. */
function asPrediction(s: Segmentation, top: number): Prediction {
  const ranked = Object.entries(s.fractions)
    .map(([label, fraction]) => ({ label, probability: fraction }))
    .sort((a, b) => b.probability - a.probability);
  return { file: s.file, top: ranked.slice(0, top), segmentation: { fractions: s.fractions } };
}

/**
 * `predict --out DIR` for a segmentation model: each image's mask as a PNG of
 * class indexes (labels.json's order) at the model's input size, named after
 * the image; the predictions say where each went.
 */
export async function writeMasks(
  loaded: LoadedModel,
  inputs: readonly string[],
  out: string,
  top: number,
): Promise<{ predictions: Prediction[]; failures: PredictionFailure[] }> {
  const { segmentations, failures } = await loaded.segment(inputs);
  await makeDirs(out);
  const names = overlayNames(segmentations.map((s) => s.file));
  const predictions = await Promise.all(
    segmentations.map(async (s, i) => {
      const mask = path.join(out, `${names[i]}.png`);
      await writeFileAtomic(mask, await maskPng(s.mask));
      const prediction = asPrediction(s, top);
      return { ...prediction, segmentation: { fractions: s.fractions, mask } };
    }),
  );
  return { predictions, failures };
}
