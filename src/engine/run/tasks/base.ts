import type { BaseTask } from '../../../plan/types.js';
import { setTrainableLayers } from '../../model/trainable-layers.js';
import type { SetupContext } from '../run-context.js';

/**
 * The base was built while gathering the plan's facts, at the spec's cut;
 * the plan's cut is the one that counts, so they must agree.
 */
export async function runBaseTask(_task: BaseTask, _inputs: object, run: SetupContext): Promise<undefined> {
  const { plan, inputs, options } = run;
  if (inputs.cut !== plan.base.cut)
    throw new Error(`the base was built cut at ${inputs.cut}, but the plan cuts at ${plan.base.cut}`);
  setTrainableLayers(inputs.base, 'none');
  options.onEvent({
    type: 'base',
    model: plan.base.model,
    cut: plan.base.cut,
    // The layers as `plan` counts them, without the input layer (layerCount, in the fingerprint, counts it too).
    layers: plan.base.layers.length,
    params: plan.base.paramCount,
    outputShape: plan.base.cutOutputShape,
    seconds: inputs.seconds.base,
  });
  return undefined;
}
