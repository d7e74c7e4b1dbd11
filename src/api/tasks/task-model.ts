import type * as tf from '@tensorflow/tfjs';
import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import type { Prediction, PredictionFailure } from '../../engine/evaluate/predict.js';
import type { Evaluation, EvaluateOptions } from '../evaluate.js';
import type { LoadedModel, ModelOptions, OpenedModel } from '../load-model.js';
import type { Outcome } from '../types.js';
import type { ServedAnswer, ServedInput } from '../../serve/served-answers.js';

/**
 * A task's exported model as the library and the CLI use it: how a model
 * folder shows it holds one, and how it opens as a LoadedModel. A task
 * whose folder is a tfjs LayersModel with labels and preprocessing (the
 * staged tasks) is told by the model's outputs, once the folder is checked
 * and the model built; a task with files of its own (anomaly: the memory
 * bank) is told by its folder, and opens it itself. Each task is one module
 * in this folder and one line in registry.ts.
 */
export type TaskModel =
  | {
      opens: 'model';
      /** Whether the built model is this task's (segmentation: a class score per pixel). */
      holds: (model: tf.LayersModel) => boolean;
      open: (opened: OpenedModel) => LoadedModel;
      /** `tlpipe evaluate`: the model scored on the run's test split, or on the data given. */
      evaluate: (opened: OpenedModel, options: EvaluateOptions) => Promise<Outcome<Evaluation>>;
      /** `tlpipe serve`: a batch of instances answered, each in its place (an instance that cannot be answered: its error). */
      serve: ServeBatch;
      /** `predict --out DIR`: what the task writes there for each input, where it writes anything (segmentation: mask PNGs). */
      predictInto?: (
        loaded: LoadedModel,
        inputs: readonly string[],
        out: string,
        top: number,
      ) => Promise<{ predictions: Prediction[]; failures: PredictionFailure[] }>;
    }
  | {
      opens: 'folder';
      /** Whether the model folder holds this task's files, read before any model is built. */
      holds: (modelDir: string) => Promise<boolean>;
      open: (modelDir: string, options: ModelOptions) => Promise<{ model: LoadedModel; warnings: Diagnostic[] }>;
      evaluate: (
        found: { modelDir: string; runDir?: string },
        options: EvaluateOptions,
      ) => Promise<Outcome<Evaluation>>;
      serve: ServeBatch;
    };

/** A batch of served instances through a loaded model, by the model's own methods, so a served answer is `predict`'s. */
export type ServeBatch = (loaded: LoadedModel, inputs: readonly ServedInput[]) => Promise<ServedAnswer[]>;
