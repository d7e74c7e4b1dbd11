import { taskOf, type EvaluateTask } from '../../../plan/types.js';
import { TASK_ENGINES } from '../../tasks/registry.js';
import type { RunContext } from '../run-context.js';
import type { Evaluation, TaskInputs } from '../task-results.js';

/** The test split, evaluated as the plan's task evaluates (engine/tasks). */
export function runEvaluateTask(
  task: EvaluateTask,
  inputs: TaskInputs['evaluate'],
  run: RunContext,
): Promise<Evaluation> {
  return TASK_ENGINES[taskOf(run.plan)].evaluate(task, inputs, run);
}
