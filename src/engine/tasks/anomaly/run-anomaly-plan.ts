import type { Plan, PlanTask, TaskKind } from '../../../plan/types.js';
import { RunInterrupted } from '../../errors.js';
import type { RunInputs } from '../../facts/gather-facts.js';
import { RandomStreams } from '../../random.js';
import { dataOutcome, type PlanOutcome, type RunPlanOptions, type SetupContext } from '../../run/run-context.js';
import { runDataTask } from '../../run/tasks/data.js';
import { evaluateAnomaly } from './evaluate-anomaly.js';
import { exportAnomaly } from './export-anomaly.js';
import { fitBank } from './fit-bank.js';

/** What anomaly's steps share: the plan, the inputs, the caller's options. Nothing trains, so no models or checkpoints. */
export type RunContextBase = SetupContext;

/**
 * Runs a `task: anomaly` plan: its tasks in order — the data and the base
 * (as every plan), the memory bank and threshold, the test split's scores,
 * the export. Nothing trains, so there is nothing to resume or to take from
 * the stage cache; a run that stops is run again.
 */
export async function runAnomalyPlan(plan: Plan, inputs: RunInputs, options: RunPlanOptions): Promise<PlanOutcome> {
  const run: SetupContext = { plan, inputs, options, streams: new RandomStreams(plan.seed) };
  const step = <K extends TaskKind>(kind: K): Extract<PlanTask, { kind: K }> | undefined => {
    if (options.signal?.aborted) throw new RunInterrupted();
    return plan.tasks.find((t): t is Extract<PlanTask, { kind: K }> => t.kind === kind);
  };
  await runDataTask(required(step('data'), 'data'), {}, run);
  // The base task's work is the extractor's: fitBank cuts its own copy at the plan's cut and says so.
  required(step('base'), 'base');
  const banked = await fitBank(required(step('bank'), 'bank'), run);
  try {
    const evaluated = step('evaluate') ? await evaluateAnomaly(banked, run) : undefined;
    const exported = await exportAnomaly(required(step('export'), 'export'), banked, run);
    return {
      backend: inputs.backend.name,
      data: dataOutcome(inputs),
      stages: [],
      ...(evaluated ? { test: evaluated.test } : {}),
      ...(evaluated?.gallery ? { gallery: evaluated.gallery } : {}),
      export: exported,
    };
  } finally {
    banked.dispose();
  }
}

function required<T>(task: T | undefined, kind: TaskKind): T {
  if (!task) throw new Error(`an anomaly plan has a ${kind} task; this one has none`);
  return task;
}
