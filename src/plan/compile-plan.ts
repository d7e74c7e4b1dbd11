import type { Result } from '../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../format/types.js';
import { TASK_PLANNERS } from './tasks/registry.js';
import type { PlanOptions } from './tasks/task-planner.js';
import type { Plan, PlanInputs } from './types.js';

export { MAX_PRECOMPUTED_FEATURE_BYTES } from './compile-steps/feature-mode.js';
export { groupByLearningRate } from './compile-steps/parameter-groups.js';
export { balancedClassWeights } from './compile-steps/stage-training.js';
export type { PlanOptions } from './tasks/task-planner.js';

/**
 * Compiles a validated pipeline and the facts about its inputs into a plan:
 * plain, JSON-serialisable data with a content fingerprint on every task.
 * Pure: no tfjs, no I/O, the same input always gives the same plan. Each
 * task plans its own way (plan/tasks); their steps live in compile-steps/.
 */
export function compilePlan(spec: PipelineSpec, inputs: PlanInputs, options: PlanOptions = {}): Result<Plan> {
  return TASK_PLANNERS[spec.task](spec, inputs, options);
}
