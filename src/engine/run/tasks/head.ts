import type { HeadTask } from '../../../plan/types.js';
import { buildHeadLayers, buildHeadModel, composeModel } from '../../model/build-models.js';
import type { RunState } from '../run-state.js';

/**
 * The head's layers, seeded, and the three models that share them: the
 * head alone on features, base and head as one, and the base with the
 * head's weightless leading layers (the feature extractor).
 */
export async function runHeadTask(_task: HeadTask, state: RunState): Promise<void> {
  const { plan, inputs } = state;
  const applied = plan.features.headLayersApplied;
  state.headLayers = buildHeadLayers(plan.head, plan.seed, state.streams);
  state.headModel = buildHeadModel(state.headLayers.slice(applied), plan.features.shape);
  state.fullModel = composeModel(inputs.base, state.headLayers, plan.pipeline);
  state.extractor = composeModel(inputs.base, state.headLayers.slice(0, applied), `${plan.pipeline}_features`);
}
