import { loadModel, type Prediction } from './load-model.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, type Outcome, type PipelineOptions } from './types.js';

/** Classifies image files (or every image file under a folder) with a run's exported model, preparing each as training did. */
export async function predict(runRef: string, inputs: readonly string[], options: Pick<PipelineOptions, 'runsDir' | 'backend'> & { top?: number } = {}): Promise<Outcome<Prediction[]>> {
  const loaded = await loadModel(runRef, options);
  if (!loaded.ok) return failed(loaded.diagnostics);
  try {
    return await userErrorsAt(runRef, async () => ok(await loaded.value.classify(inputs, { top: options.top ?? 3 })));
  } finally {
    loaded.value.dispose();
  }
}
