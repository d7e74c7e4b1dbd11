import type * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from '../engine/data/preprocess.js';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { checkedArtifacts, loadExportedModel, modelShapes } from '../engine/evaluate/exported-model.js';
import type { FeatureRow } from '../engine/data/feature-rows.js';
import type { ImageInput, Prediction, PredictionFailure } from '../engine/evaluate/predict.js';
import type { ImageExplanation } from '../engine/evaluate/explain-images.js';
import { UserError } from '../diagnostics/user-error.js';
import { assertNever } from '../format/dataset-formats/input.js';
import { selectBackend } from '../engine/kernels/backend.js';
import { isModelFolder, MODEL_DIR, readExportedModel, type ExportedModelInfo } from '../store/model-folder.js';
import { readRunRecord, RUN_FILE, type RunRecord } from '../store/run-record.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { TaskName } from '../format/types.js';
import type { Segmentation } from './segmentation-model.js';
import type { TtaTransform } from './tta-option.js';
import { folderTasks, modelTasks } from './tasks/registry.js';
import { findRunFolder, userErrorsAt } from './run-refs.js';
import { failed, ok, problem, type Outcome, type PipelineOptions } from './types.js';

export type { Prediction, PredictionFailure, ImageInput, EncodedImage } from '../engine/evaluate/predict.js';
export type { FeatureRow } from '../engine/data/feature-rows.js';
export type { TtaTransform } from './tta-option.js';
export type { ImageExplanation } from '../engine/evaluate/explain-images.js';
export type { ClassHeatmap } from '../engine/evaluate/grad-cam.js';

/**
 * A tfjs IO handler for an exported model folder (runs/<p>/<id>/model/, or a
 * copy of one): plain `@tensorflow/tfjs` has no file:// loader in Node, so
 * `tf.loadLayersModel(modelFiles(dir))` is how a program loads it directly.
 * It checks the folder first as `loadModel` does: every file against
 * manifest.json (a folder without one is read with a warning on stderr),
 * weight files inside the folder, sizes declared before they are allocated.
 */
export const modelFiles = (dir: string): tf.io.IOHandler => ({
  async load() {
    const exported = await readExportedModel(dir);
    // A handler has no outcome to carry a warning: Node's warning channel (process.on('warning')) does.
    if (exported.note) process.emitWarning(exported.note, { code: 'TLPIPE_UNVERIFIED_MODEL' });
    return checkedArtifacts(exported.handler, path.join(dir, 'model.json'));
  },
});

/** Options of every command that uses a run's exported model. */
export interface ModelOptions extends Pick<PipelineOptions, 'runsDir' | 'backend'> {
  /**
   * Use the model of a run that did not complete (failed, interrupted, still
   * running). Refused by default: such a run may have stopped while writing
   * its model, or after something went wrong that the model reflects.
   */
  allowIncomplete?: boolean;
}

/** An exported model opened and checked, with where it came from. */
export interface OpenedModel {
  model: tf.LayersModel;
  exported: ExportedModelInfo;
  outputs: 'probabilities' | 'logits';
  /** The run folder the model belongs to; absent for a model folder outside any run (a deployed copy). */
  runDir?: string;
  warnings: Diagnostic[];
}

const MODEL_REF_HINT = 'or name a model folder itself (one with model.json, such as runs/<pipeline>/<run>/model-uint8)';

/**
 * Where the model a command names is: a model folder given directly (with
 * model.json: model/, model-uint8/ inside a run, or a copy elsewhere), or a
 * run (a run folder, `<pipeline>/<NNNN>`, `<pipeline>`) and its model/.
 * A run that did not complete is refused unless `allowIncomplete`.
 */
export async function findExportedModel(
  ref: string,
  options: ModelOptions,
): Promise<{ ok: true; modelDir: string; runDir?: string } | { ok: false; outcome: Outcome<never> }> {
  let modelDir: string;
  let runDir: string | undefined;
  let record: RunRecord | undefined;
  if (await isModelFolder(ref)) {
    modelDir = path.resolve(ref);
    const parent = path.dirname(modelDir);
    // Inside a run folder, the run's status counts as much as for the run named.
    if (
      await lstat(path.join(parent, RUN_FILE)).then(
        () => true,
        () => false,
      )
    ) {
      runDir = parent;
      try {
        record = await readRunRecord(parent);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        if (!options.allowIncomplete)
          return {
            ok: false,
            outcome: failed([
              problem(
                ref,
                `the run ${parent} that holds this model cannot be read, so whether it completed is unknown: ${error.message}`,
                ALLOW_HINT,
              ),
            ]),
          };
      }
    }
  } else {
    const found = await findRunFolder(ref, options);
    if (!found.ok)
      return {
        ok: false,
        outcome: failed(
          found.outcome.diagnostics.map((d) => ({
            ...d,
            hint: d.hint ? `${d.hint}; ${MODEL_REF_HINT}` : MODEL_REF_HINT,
          })),
        ),
      };
    runDir = found.dir;
    record = found.record;
    modelDir = path.join(found.dir, MODEL_DIR);
  }
  if (record && record.status !== 'completed' && !options.allowIncomplete) {
    const why = record.error?.message ? ` (${record.error.message.split('\n')[0]})` : '';
    return {
      ok: false,
      outcome: failed([
        problem(
          ref,
          `run ${runDir} is ${record.status}, not completed${why}: its model may be incomplete, or reflect what went wrong`,
          ALLOW_HINT,
        ),
      ]),
    };
  }
  return { ok: true, modelDir, ...(runDir ? { runDir } : {}) };
}

const ALLOW_HINT =
  'name a completed run, or pass --allow-incomplete (the API: allowIncomplete: true) to use this model anyway';

/**
 * The exported model a command names, read without trust (see
 * readExportedModel), built by tfjs only once its topology is checked, and
 * checked against its labels and preprocessing: as many class names as
 * outputs, the input size and channels preprocessing.json gives.
 */
export async function openExportedModel(
  ref: string,
  options: ModelOptions,
): Promise<{ ok: true; opened: OpenedModel } | { ok: false; outcome: Outcome<never> }> {
  const found = await findExportedModel(ref, options);
  if (!found.ok) return found;
  // A task with files of its own (anomaly: a memory bank) is not read as a model with class outputs.
  for (const [name, task] of folderTasks())
    if (await task.holds(found.modelDir))
      throw new UserError(
        `${found.modelDir} is a model of task ${name}, which opens with its own files, not as a model with an output per class`,
        [],
        'loadModel() opens every task’s model; `tlpipe predict` and `tlpipe evaluate` take it',
      );
  const exported = await readExportedModel(found.modelDir);
  await selectBackend(options.backend ?? 'auto');
  const modelFile = path.join(found.modelDir, 'model.json');
  const model = await loadExportedModel(exported.handler, modelFile);
  try {
    const shapes = modelShapes(model);
    checkAgreement(exported, shapes);
    const warnings = exported.note
      ? [
          {
            ...problem(found.modelDir, exported.note, 'run the pipeline again to export the model with a manifest'),
            severity: 'warning' as const,
          },
        ]
      : [];
    return {
      ok: true,
      opened: { model, exported, outputs: shapes.outputs, ...(found.runDir ? { runDir: found.runDir } : {}), warnings },
    };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** labels.json and preprocessing.json must describe the model beside them. */
function checkAgreement(exported: ExportedModelInfo, shapes: ReturnType<typeof modelShapes>): void {
  const hint =
    'the files of a model folder belong together; the folder was damaged, edited, or assembled from different runs';
  if (exported.labels.length !== shapes.classes)
    throw new UserError(
      `${path.join(exported.dir, 'labels.json')} names ${exported.labels.length} classes, but the model has ${shapes.classes} outputs`,
      [],
      hint,
    );
  const pre = exported.preprocessing;
  const expected = preparedShape(pre);
  const fits = shapes.input.length === expected.length && shapes.input.every((d, i) => d === null || d === expected[i]);
  if (!fits)
    throw new UserError(
      `${path.join(exported.dir, 'preprocessing.json')} prepares inputs of shape [${expected.join(', ')}], but the model takes [${shapes.input.map((d) => d ?? 'any').join(', ')}]`,
      [],
      hint,
    );
}

/** One example's shape as preprocessing.json prepares it. */
function preparedShape(pre: Preprocessing): number[] {
  switch (pre.kind) {
    case 'image':
      return [...pre.inputSize, pre.channels];
    case 'tabular':
      return [pre.columns.length];
    default:
      return assertNever(pre);
  }
}

/** A run's exported model, ready to classify images exactly as `tlpipe predict` does. */
export interface LoadedModel {
  /** What the model does: classification (the default), anomaly (score() and a verdict per image), or segmentation (segment(): a class per pixel). */
  task: TaskName;
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
   * under a folder, or an encoded image in memory: `{ name, bytes }`), best
   * first; one that cannot be read or decoded is a failure, and the others
   * are still classified. Every method that takes images takes these.
   * `tta` (test-time augmentation): each image's probabilities averaged
   * over deterministic transforms of it — `flip`: the image and its
   * mirror; `crops`: the image and its four corner and centre crops (90%
   * of each side, resized back); both: each of those and its mirror.
   */
  classify(
    inputs: readonly ImageInput[],
    options?: { top?: number; tta?: readonly TtaTransform[] },
  ): Promise<{ predictions: Prediction[]; failures: PredictionFailure[] }>;
  /**
   * An anomaly model's scores of image files (or every image file under a
   * folder): each prediction's `anomaly` has the score, the model's
   * threshold, the verdict and the heat map. A classifier has none.
   */
  score(inputs: readonly ImageInput[]): Promise<{ predictions: Prediction[]; failures: PredictionFailure[] }>;
  /**
   * A segmentation model's masks of image files (or every image file under a
   * folder): each pixel's class at the model's input size, and each class's
   * fraction of the image. Other models have none.
   */
  segment(inputs: readonly ImageInput[]): Promise<{ segmentations: Segmentation[]; failures: PredictionFailure[] }>;
  /**
   * Grad-CAM maps of image files (or every image file under a folder): for
   * the class each is given, and for each class named in `classes`, at
   * `layer` (default: the last layer with height and width). Each map is at
   * the model's input size, 0–1.
   */
  explain(
    inputs: readonly ImageInput[],
    options?: { top?: number; classes?: readonly string[]; layer?: string },
  ): Promise<{ layer: string; explanations: ImageExplanation[]; failures: PredictionFailure[] }>;
  /**
   * A tabular model's `top` most likely classes for each row, best first:
   * rows in memory (values by column name, or in `preprocessing.columns`
   * order) or the path of a CSV file whose header names the columns (other
   * columns, the label among them, are ignored). Each column is standardised
   * with the training split's mean and std, as training did. A row that does
   * not fit is an error naming it (`file.csv:12`, or `row 3`).
   */
  predict(rows: string | readonly FeatureRow[], options?: { top?: number }): Promise<{ predictions: Prediction[] }>;
  dispose(): void;
}

/**
 * Loads a run's exported model (a run folder, `<pipeline>/<NNNN>` or
 * `<pipeline>`), or a model folder given directly, with its labels and its
 * preprocessing, each checked (see openExportedModel). It activates a
 * backend (`auto` unless told) on the tfjs this package uses.
 */
export async function loadModel(ref: string, options: ModelOptions = {}): Promise<Outcome<LoadedModel>> {
  return userErrorsAt(ref, async () => {
    const found = await findExportedModel(ref, options);
    if (!found.ok) return found.outcome;
    // A task with files of its own is told by its folder; the others by the model, once built.
    for (const [, task] of folderTasks())
      if (await task.holds(found.modelDir)) {
        const opened = await task.open(found.modelDir, options);
        return ok(opened.model, opened.warnings);
      }
    const opened = await openExportedModel(ref, options);
    if (!opened.ok) return opened.outcome;
    const [, task] = modelTasks().find(([, t]) => t.holds(opened.opened.model))!;
    return ok(task.open(opened.opened), opened.opened.warnings);
  });
}
