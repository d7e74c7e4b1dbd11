import path from 'node:path';
import { lstat } from 'node:fs/promises';
import { UserError } from '../diagnostics/user-error.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { loadBank } from '../engine/anomaly/memory-bank.js';
import { extractorOf } from '../engine/anomaly/patch-features.js';
import { loadExportedModel, preparedImages } from '../engine/evaluate/exported-model.js';
import { collectImageFiles } from '../engine/evaluate/predict.js';
import { selectBackend } from '../engine/kernels/backend.js';
import { scoreImageFiles } from '../engine/tasks/anomaly/score-files.js';
import { BANK_HEADER_FILE, readMemoryBank } from '../store/memory-bank-file.js';
import { readExportedModel } from '../store/model-folder.js';
import type { LoadedModel, ModelOptions } from './load-model.js';
import { problem } from './types.js';

/** Whether a model folder is an anomaly model's: it has a memory bank beside model.json. */
export function isAnomalyModelFolder(modelDir: string): Promise<boolean> {
  return lstat(path.join(modelDir, BANK_HEADER_FILE)).then(
    () => true,
    () => false,
  );
}

const BELONG_HINT =
  'the files of a model folder belong together; the folder was damaged, edited, or assembled from different runs';

/**
 * An anomaly model folder opened without trust: the model's files checked
 * against manifest.json (readExportedModel), the memory bank against its
 * header's size and sha256 (readMemoryBank), and the three checked against
 * each other — one output per patch layer, the image size preprocessing.json
 * prepares, the patch grid and features the bank was made of.
 */
export async function openAnomalyModel(
  modelDir: string,
  options: ModelOptions,
): Promise<{ model: LoadedModel; warnings: Diagnostic[] }> {
  const exported = await readExportedModel(modelDir);
  const { bank, header } = await readMemoryBank(modelDir);
  const pre = exported.preprocessing;
  if (pre.kind !== 'image')
    throw new UserError(`${path.join(modelDir, 'preprocessing.json')} prepares table rows, but an anomaly model scores images`, [], BELONG_HINT);
  await selectBackend(options.backend ?? 'auto');
  const model = await loadExportedModel(exported.handler, path.join(modelDir, 'model.json'));
  const extractor = extractorOf(model, header.features, pre);
  try {
    const mismatch =
      model.outputs.length !== header.features.layers.length
        ? `the model has ${model.outputs.length} outputs, but the bank was made from ${header.features.layers.length} layers`
        : pre.inputSize.join('×') !== header.features.imageSize.join('×')
          ? `preprocessing.json prepares ${pre.inputSize.join('×')} images, but the bank was made from ${header.features.imageSize.join('×')}`
          : extractor.grid.join('×') !== header.features.grid.join('×') || extractor.dim !== bank.dim
            ? `the model makes ${extractor.grid.join('×')} patches of ${extractor.dim} features, but the bank holds ${header.features.grid.join('×')} of ${bank.dim}`
            : undefined;
    if (mismatch) throw new UserError(`${path.join(modelDir, BANK_HEADER_FILE)}: ${mismatch}`, [], BELONG_HINT);
  } catch (error) {
    extractor.dispose();
    throw error;
  }
  const loaded = loadBank(bank);
  const threshold = header.threshold.value;
  const score: LoadedModel['score'] = async (inputs) => {
    const collected = await collectImageFiles(inputs);
    const scored = await scoreImageFiles(extractor, loaded, threshold, collected.files);
    return { predictions: scored.predictions, failures: [...collected.failures, ...scored.failures] };
  };
  const warnings = exported.note
    ? [{ ...problem(modelDir, exported.note, 'run the pipeline again to export the model with a manifest'), severity: 'warning' as const }]
    : [];
  return {
    model: {
      task: 'anomaly',
      model,
      labels: exported.labels,
      preprocessing: pre,
      outputs: 'probabilities',
      preprocess: (images) => preparedImages(images, pre),
      // Its one answer is the verdict: `predict` prints it with the score.
      classify: (inputs) => score(inputs),
      score,
      explain: () =>
        Promise.reject(
          new UserError(
            'an anomaly model explains its scores with heat maps of patch distances, not Grad-CAM',
            [],
            'each of score()’s predictions has `anomaly.heat`: the patch scores on their grid',
          ),
        ),
      segment: () =>
        Promise.reject(new UserError('an anomaly model scores images; segment() is for segmentation models', [], 'use score()')),
      dispose: () => {
        loaded.dispose();
        extractor.dispose();
      },
    },
    warnings,
  };
}
