import type { PipelineSpec } from '../../format/types.js';
import type { PlanInputs, PlanTask, ShiftTask } from '../types.js';
import type { StagesSoFar } from './stages-so-far.js';
import { fingerprinted, withTask, type TaskDraft } from './task-list.js';

/** Images of each domain the shift is measured on at most: enough for a stable AUROC, few enough to stay seconds on a CPU. */
export const SHIFT_SAMPLE = 500;

/**
 * `adapt:`: the shift measured on the base as cut, inserted right after the
 * base task, so it sees the base before any task adapts or trains it.
 */
export function withShiftBefore(spec: PipelineSpec, inputs: PlanInputs, tasks: readonly PlanTask[]): PlanTask[] {
  if (!spec.adapt || !inputs.adapt) return [...tasks];
  const at = tasks.findIndex((t) => t.kind === 'base') + 1;
  const before = tasks.slice(0, at);
  const task = fingerprinted<ShiftTask>(before, draft(spec, inputs, 'before', 'base'));
  return [...before, task, ...tasks.slice(at)];
}

/**
 * `adapt:`: the shift measured again once every stage has run, on the base
 * as the last task that changed it left it (the base task itself when
 * nothing did: then it equals the one before).
 */
export function withShiftAfter(spec: PipelineSpec, inputs: PlanInputs, trained: StagesSoFar): StagesSoFar {
  if (!spec.adapt || !inputs.adapt) return trained;
  return { ...trained, tasks: withTask(trained.tasks, draft(spec, inputs, 'after', trained.baseSetBy)) };
}

function draft(
  spec: PipelineSpec,
  inputs: PlanInputs,
  when: ShiftTask['when'],
  baseSetBy: string,
): TaskDraft<ShiftTask> {
  const target = inputs.adapt!;
  // The pipeline's own training images: a dataset.source's examples are not measured (another domain, maybe).
  const own = inputs.dataset.counts.train - (inputs.dataset.source?.examples ?? 0);
  const trainImages = Math.min(SHIFT_SAMPLE, own);
  const targetImages = Math.min(SHIFT_SAMPLE, target.images);
  return {
    id: `shift:${when}`,
    kind: 'shift',
    when,
    sample: SHIFT_SAMPLE,
    dependsOn: ['data', baseSetBy],
    description: `domain shift ${when} adaptation: a domain classifier's AUROC on the base's pooled features, ${trainImages} training vs ${targetImages} target images${when === 'after' && baseSetBy === 'base' ? ' (nothing changes the base: as before)' : ''}`,
    config: { target: target.digest, sample: SHIFT_SAMPLE, seed: spec.seed, features: 'pooled' },
  };
}
