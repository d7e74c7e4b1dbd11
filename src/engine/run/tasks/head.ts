import type { HeadTask } from '../../../plan/types.js';
import { buildHeadLayers, buildHeadModel, composeModel } from '../../model/build-models.js';
import type { SetupContext } from '../run-context.js';
import { RunModels } from '../run-models.js';

/**
 * The head's layers, seeded, and the three models that share them: the
 * head alone on features, base and head as one, and the base with the
 * head's weightless leading layers (the feature extractor).
 */
export async function runHeadTask(
  _task: HeadTask,
  _inputs: object,
  run: Pick<SetupContext, 'plan' | 'inputs' | 'streams'>,
): Promise<RunModels> {
  const { plan, inputs } = run;
  const applied = plan.features.headLayersApplied;
  const layers = buildHeadLayers(plan.head, plan.seed, run.streams);
  return new RunModels(
    buildHeadModel(layers.slice(applied), plan.features.shape, inputs.base),
    composeModel(inputs.base, layers, plan.pipeline),
    composeModel(inputs.base, layers.slice(0, applied), `${plan.pipeline}_features`),
  );
}
