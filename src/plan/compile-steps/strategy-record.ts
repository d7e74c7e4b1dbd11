import { strategyKeys } from '../../format/strategy.js';
import type { PipelineSpec } from '../../format/types.js';
import type { Plan, PlanInputs } from '../types.js';

/** The keys a strategy filled, as a user would write them, so `tlpipe plan` can show them for copying. */
export function strategyRecord(spec: PipelineSpec, inputs: PlanInputs): NonNullable<Plan['strategy']> {
  const { requested, chosen, filled } = spec.strategy!;
  // The freeze and stages as written; the cut is the spec's own (not handed back to format/, which filled it).
  const keys = strategyKeys(chosen, spec.base.model);
  return {
    requested,
    chosen,
    filled: {
      ...(filled.includes('base.cut') ? { base: { cut: spec.base.cut } } : {}),
      ...(filled.includes('freeze') ? { freeze: keys.freeze } : {}),
      ...(filled.includes('train.stages') ? { train: { stages: keys.stages } } : {}),
    },
    ...(inputs.strategy ? { measurement: inputs.strategy } : {}),
  };
}
