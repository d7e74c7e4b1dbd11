import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { loadBank } from '../engine/anomaly/memory-bank.js';
import { extractorOf } from '../engine/anomaly/patch-features.js';
import { loadExportedModel, preparedImages } from '../engine/evaluate/exported-model.js';
import { collectImageFiles } from '../engine/evaluate/predict.js';
import { selectBackend } from '../engine/kernels/backend.js';
import { scoreImageFiles } from '../engine/tasks/anomaly/score-files.js';
import {
  BANK_HEADER_FILE,
  isAnomalyModelFolder,
  readMemoryBank,
  type MemoryBankHeader,
} from '../store/memory-bank-file.js';
import type { AnomalyScorer } from '../engine/tasks/anomaly/evaluate-anomaly.js';
import type { ExportedModelInfo } from '../store/model-folder.js';
import { MAX_BANK_BYTES } from '../plan/tasks/anomaly.js';
import type { LayersModel } from '@tensorflow/tfjs';
import type { ImagePreprocessing } from '../engine/data/preprocess.js';
import { readExportedModel } from '../store/model-folder.js';
import type { LoadedModel, ModelOptions } from './load-model.js';
import { problem } from './types.js';

// The store's one test of an anomaly model folder, here too for the callers that import it from here.
export { isAnomalyModelFolder };

/** How the model's outputs, the preprocessing and the bank disagree, if they do: the patches they make must be the bank's. */
function bankMismatch(
  model: LayersModel,
  features: MemoryBankHeader['features'],
  inputSize: readonly number[],
  bankDim: number,
): string | undefined {
  const shapes = model.outputs.map((output) => output.shape.slice(1));
  if (shapes.length !== features.layers.length)
    return `the model has ${shapes.length} outputs, but the bank was made from ${features.layers.length} layers`;
  if (inputSize.join('×') !== features.imageSize.join('×'))
    return `preprocessing.json prepares ${inputSize.join('×')} images, but the bank was made from ${features.imageSize.join('×')}`;
  const finest = shapes.reduce((a, b) => ((b[0] ?? 0) * (b[1] ?? 0) > (a[0] ?? 0) * (a[1] ?? 0) ? b : a));
  const depth = shapes.reduce((sum, shape) => sum + (shape[2] ?? 0), 0);
  const dim = features.projectTo !== undefined && features.projectTo < depth ? features.projectTo : depth;
  if (`${finest[0]}×${finest[1]}` !== features.grid.join('×') || depth !== features.depth || dim !== bankDim)
    return `the model makes ${finest[0]}×${finest[1]} patches of ${dim} features, but the bank holds ${features.grid.join('×')} of ${bankDim}`;
  return undefined;
}

const BELONG_HINT =
  'the files of a model folder belong together; the folder was damaged, edited, or assembled from different runs';

/** An anomaly model folder opened and checked: what scores images, and what the folder says of itself. */
export interface OpenedAnomalyModel {
  scorer: AnomalyScorer;
  exported: ExportedModelInfo & { preprocessing: ImagePreprocessing };
  header: MemoryBankHeader;
  warnings: Diagnostic[];
  /** Frees the model and the bank. */
  dispose(): void;
}

/**
 * An anomaly model folder opened without trust: the model's files checked
 * against manifest.json (readExportedModel), the memory bank against its
 * header's size and sha256 (readMemoryBank), and the three checked against
 * each other — one output per patch layer, the image size preprocessing.json
 * prepares, the patch grid and features the bank was made of, the classes
 * labels.json names.
 */
export async function openAnomalyScorer(modelDir: string, options: ModelOptions): Promise<OpenedAnomalyModel> {
  const exported = await readExportedModel(modelDir);
  // No bank bigger than a run may write is read back, whatever its header declares.
  const { bank, header } = await readMemoryBank(modelDir, { maxBytes: MAX_BANK_BYTES });
  const pre = exported.preprocessing;
  if (pre.kind !== 'image')
    throw new UserError(
      `${path.join(modelDir, 'preprocessing.json')} prepares table rows, but an anomaly model scores images`,
      [],
      BELONG_HINT,
    );
  if (header.classes && header.classes.names.join('\n') !== exported.labels.join('\n'))
    throw new UserError(
      `${path.join(modelDir, BANK_HEADER_FILE)} names the classes ${header.classes.names.join(', ')}, but labels.json names ${exported.labels.join(', ')}`,
      [],
      BELONG_HINT,
    );
  await selectBackend(options.backend ?? 'auto');
  const model = await loadExportedModel(exported.handler, path.join(modelDir, 'model.json'));
  // Checked against the model before anything is sized by the header (its projection, say).
  const mismatch = bankMismatch(model, header.features, pre.inputSize, bank.dim);
  if (mismatch) {
    model.dispose();
    throw new UserError(`${path.join(modelDir, BANK_HEADER_FILE)}: ${mismatch}`, [], BELONG_HINT);
  }
  const extractor = extractorOf(model, header.features, pre);
  const loaded = loadBank(bank);
  const warnings = exported.note
    ? [
        {
          ...problem(modelDir, exported.note, 'run the pipeline again to export the model with a manifest'),
          severity: 'warning' as const,
        },
      ]
    : [];
  return {
    scorer: { extractor, bank: loaded, threshold: header.threshold.value },
    exported: { ...exported, preprocessing: pre },
    header,
    warnings,
    dispose: () => {
      loaded.dispose();
      extractor.dispose();
    },
  };
}

/** An anomaly model folder (see openAnomalyScorer) as loadModel's LoadedModel: score(), and a verdict per image. */
export async function openAnomalyModel(
  modelDir: string,
  options: ModelOptions,
): Promise<{ model: LoadedModel; warnings: Diagnostic[] }> {
  const opened = await openAnomalyScorer(modelDir, options);
  const { scorer, exported, warnings } = opened;
  const pre = exported.preprocessing;
  const score: LoadedModel['score'] = async (inputs) => {
    const collected = await collectImageFiles(inputs);
    const scored = await scoreImageFiles(scorer.extractor, scorer.bank, scorer.threshold, collected.files);
    return { predictions: scored.predictions, failures: [...collected.failures, ...scored.failures] };
  };
  return {
    model: {
      task: 'anomaly',
      model: scorer.extractor.model,
      labels: exported.labels,
      preprocessing: pre,
      outputs: 'probabilities',
      preprocess: (images) => preparedImages(images, pre),
      // Its one answer is the verdict: `predict` prints it with the score.
      classify: (inputs) => score(inputs),
      score,
      predict: () =>
        Promise.reject(
          new UserError('an anomaly model scores images, not table rows', [], 'use score() with image files'),
        ),
      explain: () =>
        Promise.reject(
          new UserError(
            'an anomaly model explains its scores with heat maps of patch distances, not Grad-CAM',
            [],
            'each of score()’s predictions has `anomaly.heat`: the patch scores on their grid',
          ),
        ),
      segment: () =>
        Promise.reject(
          new UserError('an anomaly model scores images; segment() is for segmentation models', [], 'use score()'),
        ),
      dispose: () => opened.dispose(),
    },
    warnings,
  };
}
