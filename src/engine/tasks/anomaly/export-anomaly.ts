import tf from '../../tfjs.cjs';
import type { ExportTask } from '../../../plan/types.js';
import { splitSource } from '../../data/datasets.js';
import type { Exported } from '../../run/task-results.js';
import type { Banked } from './fit-bank.js';
import type { RunContextBase } from './run-anomaly-plan.js';
import { scoreExamples } from './patch-scores.js';

/** Test examples the exported scorer is checked on after its save/load round trip (kept in model/probe.json). */
const EXPORT_PROBE_SIZE = 8;

/**
 * Saves the base cut at the deepest patch layer (one output per patch
 * layer), the memory bank and the threshold, with the labels and the
 * preprocessing; then loads the model back through the same handler and
 * checks the probe images score as they did in memory.
 */
export async function exportAnomaly(task: ExportTask, banked: Banked, run: RunContextBase): Promise<Exported> {
  const { plan, inputs, options } = run;
  const { output } = options;
  const dir = 'model';
  await banked.extractor.model.save(output.modelHandler(dir));
  const split = inputs.selection.test.length > 0 ? 'test' : 'validation';
  const source = splitSource(inputs.dataset, split);
  const indexes = inputs.selection[split].slice(0, EXPORT_PROBE_SIZE);
  const expected = await scoreExamples(banked.extractor, banked.loaded, source, indexes, options.signal);
  const reloaded = await tf.loadLayersModel(output.modelHandler(dir));
  const onReloaded = banked.extractor.withModel(reloaded);
  let maxAbsDifference: number;
  try {
    const again = await scoreExamples(onReloaded, banked.loaded, source, indexes, options.signal);
    maxAbsDifference = expected.imageScores.reduce((m, s, i) => Math.max(m, Math.abs(s - again.imageScores[i]!)), 0);
  } finally {
    onReloaded.dispose();
    reloaded.dispose();
  }
  await output.writeExportFiles({
    labels: plan.classes.names,
    preprocessing: inputs.preprocessing,
    probe: {
      split,
      indexes,
      examples: indexes.map((i) => source.name(i)),
      predictions: Array.from(expected.imageScores, (score) => [score]),
    },
    // The demo page classifies a picked image; an anomaly scorer has no such page yet.
    demoPage: false,
    anomaly: {
      bank: banked.bank,
      features: {
        ...banked.extractor.settings,
        base: plan.base.model,
        imageSize: inputs.preprocessing.kind === 'image' ? inputs.preprocessing.inputSize : [0, 0],
        grid: banked.extractor.grid,
        depth: banked.extractor.depth,
      },
      threshold: banked.threshold,
      coreset: banked.coreset,
      scoring: { neighbours: 1 },
      classes: { names: plan.classes.names, normal: plan.anomaly!.normal },
    },
  });
  const exported: Exported = { dir, verified: maxAbsDifference === 0, maxAbsDifference, probeExamples: indexes.length };
  options.onEvent({ type: 'export-end', dir, verified: exported.verified, maxAbsDifference });
  return exported;
}
