import type { Result } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import type { Plan, PlanInputs } from '../types.js';

/** How the engine may run the plan; the defaults are what `tlpipe run` does. */
export interface PlanOptions {
  /**
   * Train a fine-tuning stage above its frozen prefix (true), or run images
   * through the whole model inside every step (false: how tlpipe trained
   * before, kept to compare against; TLPIPE_FROZEN_PREFIX=0).
   */
  frozenPrefix?: boolean;
}

/** A task's part of planning: the spec and the facts in, its plan (or diagnostics) out; pure like all of plan/. */
export type TaskPlanner = (spec: PipelineSpec, inputs: PlanInputs, options: PlanOptions) => Result<Plan>;
