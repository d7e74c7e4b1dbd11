import type { EvaluateTask } from '../../plan/types.js';
import type { RunContext } from '../run/run-context.js';
import type { Evaluation, TaskInputs } from '../run/task-results.js';

/**
 * A task's part of running a plan: what differs between tasks once the
 * examples are read and the models built. The loop over the plan's tasks
 * (engine/run) is the same for every task; it hands these hooks the
 * outputs their plan task depends on.
 */
export interface TaskEngine {
  /** The test split's metrics (summary.json `test`) and what the report shows of them. */
  evaluate: (task: EvaluateTask, inputs: TaskInputs['evaluate'], run: RunContext) => Promise<Evaluation>;
}
