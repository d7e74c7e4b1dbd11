import type { Result } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import { featureMode } from '../compile-steps/feature-mode.js';
import { lossFor } from '../compile-steps/head.js';
import type { Plan, PlanInputs } from '../types.js';
import { planStaged, type StagedTaskPart } from './staged-planner.js';
import type { PlanOptions } from './task-planner.js';

/** One class per example: features stored when they can be, the loss the head's last layer calls for. */
const CLASSIFICATION: StagedTaskPart = {
  features: (spec, inputs, head) => featureMode(inputs, head, spec.dataset.augment !== undefined),
  loss: lossFor,
};

/** Classification: the head learns one class per example, stage by stage (staged-planner.ts). */
export function planClassification(spec: PipelineSpec, inputs: PlanInputs, options: PlanOptions = {}): Result<Plan> {
  return planStaged(spec, inputs, options, CLASSIFICATION);
}
