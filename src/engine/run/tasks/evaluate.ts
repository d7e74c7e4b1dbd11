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
  const engine = TASK_ENGINES[taskOf(run.plan)];
  if (engine.runs !== 'staged')
    throw new Error(`${taskOf(run.plan)} runs its own plan; the staged runner does not evaluate it`);
  return engine.evaluate(task, inputs, run);
}
