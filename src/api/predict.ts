import { assertNever } from '../format/dataset-formats/input.js';
import { UserError } from '../diagnostics/user-error.js';
import { loadModel, type LoadedModel, type ModelOptions, type Prediction } from './load-model.js';
import { userErrorsAt } from './run-refs.js';
import { TASK_MODELS } from './tasks/registry.js';
import { failed, ok, problem, type Outcome } from './types.js';
import { ttaNeedsImages, type TtaTransform } from './tta-option.js';

/**
 * Classifies image files (or every image file under a folder) with a run's
 * exported model (or a model folder given directly), preparing each as
 * training did. A file that cannot be read or decoded is a diagnostic of its
 * own; the others are classified, and the outcome is not ok when any failed.
 * A model trained on tabular rows takes CSV files of rows instead: one
 * prediction per row, named `file.csv:<line>`.
 */
export async function predict(
  runRef: string,
  inputs: readonly string[],
  options: ModelOptions & { top?: number; out?: string; tta?: readonly TtaTransform[] } = {},
): Promise<Outcome<Prediction[]>> {
  const loaded = await loadModel(runRef, options);
  if (!loaded.ok) return failed(loaded.diagnostics, loaded.warnings);
  try {
    const into = TASK_MODELS[loaded.value.task];
    const predictInto = into.opens === 'model' ? into.predictInto : undefined;
    if (options.out !== undefined && !predictInto)
      return failed(
        [
          problem(
            runRef,
            `--out writes the masks of a segmentation model; this model's task is ${loaded.value.task}`,
            'leave out --out',
          ),
        ],
        loaded.warnings,
      );
    if (options.tta?.length && loaded.value.task !== 'classification')
      return failed(
        [
          problem(
            runRef,
            `test-time augmentation averages a classifier's probabilities; this model's task is ${loaded.value.task}`,
            'leave out --tta',
          ),
        ],
        loaded.warnings,
      );
    return await userErrorsAt(runRef, async () => {
      const input = loaded.value.preprocessing;
      switch (input.kind) {
        case 'tabular':
          if (options.tta?.length) throw ttaNeedsImages();
          return ok(await predictRowFiles(loaded.value, inputs, options.top ?? 3), loaded.warnings);
        case 'image':
          break;
        default:
          return assertNever(input);
      }
      const { predictions, failures } =
        predictInto && options.out !== undefined
          ? await predictInto(loaded.value, inputs, options.out, options.top ?? 3)
          : await loaded.value.classify(inputs, {
              top: options.top ?? 3,
              ...(options.tta ? { tta: options.tta } : {}),
            });
      return failures.length === 0
        ? ok(predictions, loaded.warnings)
        : failed(
            failures.map((f) => problem(f.file, f.reason, 'the other images were classified')),
            loaded.warnings,
            predictions,
          );
    });
  } finally {
    loaded.value.dispose();
  }
}

/** Every row of each CSV file, in order; a bad row ends the command with its `file:line`. */
async function predictRowFiles(model: LoadedModel, files: readonly string[], top: number): Promise<Prediction[]> {
  if (files.length === 0)
    throw new UserError(
      'no CSV file of rows given',
      [],
      'this model was trained on tabular rows: give a CSV file with its feature columns',
    );
  const predictions: Prediction[] = [];
  for (const file of files) predictions.push(...(await model.predict(file, { top })).predictions);
  return predictions;
}
