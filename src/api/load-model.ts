import type * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from '../engine/data/preprocess.js';
import { loadExportedModel, preparedImages } from '../engine/evaluate/exported-model.js';
import { collectImageFiles, predictImages, type Prediction, type PredictionFailure } from '../engine/evaluate/predict.js';
import { explainImages, type ImageExplanation } from '../engine/evaluate/explain-images.js';
import { UserError } from '../diagnostics/user-error.js';
import { closestMatches } from '../diagnostics/did-you-mean.js';
import { selectBackend } from '../engine/kernels/backend.js';
import { fileModelHandler, readExportedModel } from '../store/model-folder.js';
import { readPlan } from '../store/plan-file.js';
import { findRunFolder, userErrorsAt } from './run-refs.js';
import { ok, type Outcome, type PipelineOptions } from './types.js';

export type { Prediction, PredictionFailure } from '../engine/evaluate/predict.js';
export type { ImageExplanation } from '../engine/evaluate/explain-images.js';
export type { ClassHeatmap } from '../engine/evaluate/grad-cam.js';

/**
 * A tfjs IO handler for an exported model folder (runs/<p>/<id>/model/): plain
 * `@tensorflow/tfjs` has no file:// loader in Node, so
 * `tf.loadLayersModel(modelFiles(dir))` is how a program loads it directly.
 */
export const modelFiles = (dir: string): tf.io.IOHandler => fileModelHandler(dir);

/** A run's exported model, ready to classify images exactly as `tlpipe predict` does. */
export interface LoadedModel {
  model: tf.LayersModel;
  /** Class names, in the order of the model's outputs. */
  labels: string[];
  /** How inputs were prepared for training (resize, channels, normalisation), as preprocessing.json says. */
  preprocessing: Preprocessing;
  /** Whether the model's outputs are probabilities (softmax) or logits (linear). */
  outputs: 'probabilities' | 'logits';
  /** Image files, or encoded images in memory, as the model's input batch: decoded and prepared as training prepared its images. */
  preprocess(images: readonly (string | Uint8Array)[]): Promise<tf.Tensor4D>;
  /**
   * The `top` most likely classes of each image file (or every image file
   * under a folder), best first; a file that cannot be read or decoded is a
   * failure, and the others are still classified.
   */
  classify(inputs: readonly string[], options?: { top?: number }): Promise<{ predictions: Prediction[]; failures: PredictionFailure[] }>;
  /**
   * Grad-CAM maps of image files (or every image file under a folder): for
   * the class each is given, and for each class named in `classes`, at
   * `layer` (default: the last layer with height and width). Each map is at
   * the model's input size, 0–1.
   */
  explain(inputs: readonly string[], options?: { top?: number; classes?: readonly string[]; layer?: string }): Promise<{ layer: string; explanations: ImageExplanation[]; failures: PredictionFailure[] }>;
  dispose(): void;
}

/**
 * Loads a run's exported model (a run folder, `<pipeline>/<NNNN>` or
 * `<pipeline>`), its labels and its preprocessing. It activates a backend
 * (`auto` unless told) on the tfjs this package uses.
 */
export async function loadModel(runRef: string, options: Pick<PipelineOptions, 'runsDir' | 'backend'> = {}): Promise<Outcome<LoadedModel>> {
  const found = await findRunFolder(runRef, options);
  if (!found.ok) return found.outcome;
  return userErrorsAt(runRef, async () => {
    const exported = await readExportedModel(found.dir);
    const plan = await readPlan(found.dir);
    await selectBackend(options.backend ?? 'auto');
    const model = await loadExportedModel(fileModelHandler(exported.dir));
    const outputs = plan.loss === 'categoricalCrossentropy' ? 'probabilities' : 'logits';
    const pre = exported.preprocessing;
    return ok<LoadedModel>({
      model,
      labels: exported.labels,
      preprocessing: pre,
      outputs,
      preprocess: (images) => preparedImages(images, pre),
      async classify(inputs, classifyOptions = {}) {
        const collected = await collectImageFiles(inputs);
        const classified = await predictImages(model, exported.labels, pre, outputs, collected.files, Math.min(classifyOptions.top ?? 3, exported.labels.length));
        return { predictions: classified.predictions, failures: [...collected.failures, ...classified.failures] };
      },
      async explain(inputs, explainOptions = {}) {
        const ask = (explainOptions.classes ?? []).map((label) => {
          const index = exported.labels.indexOf(label);
          if (index < 0) {
            const near = closestMatches(label, exported.labels);
            throw new UserError(`the model has no class \`${label}\``, [], near.length > 0 ? `did you mean ${near.map((n) => `\`${n}\``).join(' or ')}?` : `its classes: ${exported.labels.join(', ')}`);
          }
          return index;
        });
        const collected = await collectImageFiles(inputs);
        const explained = await explainImages(model, exported.labels, pre, outputs, collected.files, { top: Math.min(explainOptions.top ?? 3, exported.labels.length), ask, ...(explainOptions.layer ? { layer: explainOptions.layer } : {}) });
        return { ...explained, failures: [...collected.failures, ...explained.failures] };
      },
      dispose: () => model.dispose(),
    });
  });
}
