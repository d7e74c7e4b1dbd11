import type * as tf from '@tensorflow/tfjs';
import type { EvaluateTask, Plan } from '../../plan/types.js';
import type { BatchSource } from '../data/batches.js';
import type { StagedTestMetrics } from './test-metrics.js';
import type { RunInputs } from '../facts/gather-facts.js';
import type { PlanOutcome, RunContext, RunPlanOptions } from '../run/run-context.js';
import type { Evaluation, TaskInputs } from '../run/task-results.js';

/**
 * A task's part of running a plan. A task that trains stages (staged) runs
 * in the shared loop over the plan's tasks (engine/run/run-plan), with
 * resume, checkpoints and the stage cache, and brings what differs: how the
 * test split is evaluated. A task that trains nothing (own) runs its plan's
 * few tasks itself.
 */
export type TaskEngine =
  | {
      runs: 'staged';
      /** The test split's metrics (summary.json `test`) and what the report shows of them. */
      evaluate: (task: EvaluateTask, inputs: TaskInputs['evaluate'], run: RunContext) => Promise<Evaluation>;
      /** A whole model's test metrics on a split, nothing drawn: how a scratch baseline is scored beside the run. */
      score: (model: tf.LayersModel, source: BatchSource, plan: Plan, names: string[]) => Promise<StagedTestMetrics>;
    }
  | { runs: 'own'; run: (plan: Plan, inputs: RunInputs, options: RunPlanOptions) => Promise<PlanOutcome> };
