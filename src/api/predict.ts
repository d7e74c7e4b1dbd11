import { loadModel, type ModelOptions, type Prediction } from './load-model.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, problem, type Outcome } from './types.js';

/**
 * Classifies image files (or every image file under a folder) with a run's
 * exported model (or a model folder given directly), preparing each as
 * training did. A file that cannot be read or decoded is a diagnostic of its
 * own; the others are classified, and the outcome is not ok when any failed.
 */
export async function predict(
  runRef: string,
  inputs: readonly string[],
  options: ModelOptions & { top?: number } = {},
): Promise<Outcome<Prediction[]>> {
  const loaded = await loadModel(runRef, options);
  if (!loaded.ok) return failed(loaded.diagnostics, loaded.warnings);
  try {
    return await userErrorsAt(runRef, async () => {
      const { predictions, failures } = await loaded.value.classify(inputs, { top: options.top ?? 3 });
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
