import type { Plan, ShiftTask } from '../../plan/types.js';
import type { StageCache } from '../cache/stage-cache.js';
import type { EventListener } from '../events.js';
import type { RunInputs } from '../facts/gather-facts.js';
import { setTrainableLayers } from '../model/trainable-layers.js';
import { runShiftTask } from '../run/tasks/shift.js';
import type { ShiftMeasurement } from './measure-shift.js';

/**
 * `tlpipe data` of a pipeline with `adapt:`: the plan's own shift task
 * before adaptation (same fingerprint, so its pooled features are shared
 * with the pipeline's runs through the stage cache). Undefined when the
 * plan measures no shift or either domain has too few images.
 */
export async function shiftBeforeAdaptation(
  plan: Plan,
  inputs: RunInputs,
  options: { onEvent: EventListener; signal?: AbortSignal; cache?: StageCache },
): Promise<ShiftMeasurement | undefined> {
  const task = plan.tasks.find((t): t is ShiftTask => t.kind === 'shift' && t.when === 'before');
  if (!task) return undefined;
  if (inputs.cut !== plan.base.cut)
    throw new Error(`the base was built cut at ${inputs.cut}, but the plan cuts at ${plan.base.cut}`);
  setTrainableLayers(inputs.base, 'none');
  return runShiftTask(task, {}, { plan, inputs, options });
}
