import { fingerprinted } from '../../plan/compile-steps/task-list.js';
import type { AdaptTask, Plan, ShiftTask } from '../../plan/types.js';
import type { StageCache } from '../cache/stage-cache.js';
import type { EventListener } from '../events.js';
import type { RunInputs } from '../facts/gather-facts.js';
import { setTrainableLayers } from '../model/trainable-layers.js';
import { runAdaptTask } from '../run/tasks/adapt.js';
import { runShiftTask } from '../run/tasks/shift.js';
import type { ShiftMeasurement } from './measure-shift.js';

/** `tlpipe data`'s shift: before adaptation, and after AdaBN when the pipeline adapts with it (other methods adapt while training). */
export interface DataShift {
  before?: ShiftMeasurement;
  /** adapt.method adabn: each domain through the base with its own batch-norm statistics (the training images', the target's). */
  afterAdaBN?: ShiftMeasurement;
}

/**
 * `tlpipe data` of a pipeline with `adapt:`: the plan's own shift task
 * before adaptation and, with AdaBN, its two adapt tasks and the shift after them
 * (the tasks and fingerprints a run makes, so the pooled features and the
 * adapted statistics are shared with the pipeline's runs through the stage
 * cache). Changes `inputs.base` in place when it adapts it.
 */
export async function dataShift(
  plan: Plan,
  inputs: RunInputs,
  options: { onEvent: EventListener; signal?: AbortSignal; cache?: StageCache },
): Promise<DataShift> {
  const before = plan.tasks.find((t): t is ShiftTask => t.kind === 'shift' && t.when === 'before');
  if (!before) return {};
  if (inputs.cut !== plan.base.cut)
    throw new Error(`the base was built cut at ${inputs.cut}, but the plan cuts at ${plan.base.cut}`);
  setTrainableLayers(inputs.base, 'none');
  const context = { plan, inputs, options };
  const measuredBefore = await runShiftTask(before, {}, context);
  const onTraining = plan.tasks.find((t): t is AdaptTask => t.kind === 'adapt' && t.on === 'training');
  const onTarget = plan.tasks.find((t): t is AdaptTask => t.kind === 'adapt' && t.on === 'target');
  if (!onTraining || !onTarget) return measuredBefore ? { before: measuredBefore } : {};
  // As a run whose stages leave the base as AdaBN set it: the training images' statistics, then the target's.
  await runAdaptTask(onTraining, {}, context);
  // The run's target pass and shift after it are fingerprinted with its stages, which `data` does not train:
  // what it measures on the untrained base must not be kept under their keys (a run would read it back).
  const uncached = {
    ...context,
    options: { onEvent: options.onEvent, ...(options.signal ? { signal: options.signal } : {}) },
  };
  const adapted = await runAdaptTask(onTarget, {}, uncached);
  const { fingerprint: _, ...draft } = before;
  const after = fingerprinted<ShiftTask>(plan.tasks, {
    ...draft,
    id: 'shift:after',
    when: 'after',
    dependsOn: ['data', onTarget.id],
    description: 'domain shift after AdaBN',
  });
  const measuredAfter = await runShiftTask(after, { adapt: adapted }, uncached);
  return {
    ...(measuredBefore ? { before: measuredBefore } : {}),
    ...(measuredAfter ? { afterAdaBN: measuredAfter } : {}),
  };
}
