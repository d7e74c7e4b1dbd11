import * as tf from '@tensorflow/tfjs';
import type { ExportTask } from '../../../plan/types.js';
import { splitSource } from '../../data/datasets.js';
import { modelInput } from '../../evaluate/evaluate.js';
import type { RunState } from '../run-state.js';

/** How many test examples the exported model is checked on after a save/load round trip (kept in model/probe.json). */
const EXPORT_PROBE_SIZE = 16;

/**
 * Saves base + head as one LayersModel, with its labels and preprocessing,
 * then loads it back through the same handler and checks it predicts what
 * the in-memory model predicts.
 */
export async function runExportTask(_task: ExportTask, state: RunState): Promise<void> {
  const { plan, inputs, options } = state;
  const { output } = options;
  const model = state.model('full');
  state.freezeBase();
  const dir = 'model';
  await model.save(output.modelHandler(dir));
  const { dataset, selection, preprocessing } = inputs;
  const split = selection.test.length > 0 ? 'test' : 'train';
  const indexes = selection[split].slice(0, EXPORT_PROBE_SIZE);
  const source = splitSource(dataset, split);
  const probe = await modelInput(source, indexes, preprocessing);
  const reloaded = await tf.loadLayersModel(output.modelHandler(dir));
  try {
    const expected = tf.tidy(() => model.predict(probe) as tf.Tensor);
    const actual = tf.tidy(() => reloaded.predict(probe) as tf.Tensor);
    const maxAbsDifference = tf.tidy(() => tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0]!);
    // Lets anyone who loads the model elsewhere check their preprocessing reproduces these outputs.
    await output.writeExportFiles({
      labels: plan.classes.names,
      preprocessing,
      probe: { split, indexes, examples: indexes.map((index) => source.name(index)), predictions: expected.arraySync() as number[][] },
    });
    tf.dispose([expected, actual]);
    state.exported = { dir, verified: maxAbsDifference === 0, maxAbsDifference, probeExamples: probe.shape[0]! };
  } finally {
    probe.dispose();
    reloaded.dispose();
  }
  options.onEvent({ type: 'export-end', dir, verified: state.exported.verified, maxAbsDifference: state.exported.maxAbsDifference });
}
