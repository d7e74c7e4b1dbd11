import type { Plan } from '../../../src/plan/types.js';
import { compileSmall, smallPipeline, smallPlanInputs } from '../../fixtures/small-plan.js';

/** Three layers in a chain, so that a stage can train above a frozen prefix. */
const INPUTS = smallPlanInputs([
  { name: 'conv', className: 'Conv2D', params: 10, outputShape: [2, 2, 8], inbound: ['input'] },
  { name: 'conv2', className: 'Conv2D', params: 10, outputShape: [2, 2, 8], inbound: ['conv'] },
  { name: 'top', className: 'ReLU', params: 0, outputShape: [2, 2, 8], inbound: ['conv2'] },
]);

/** The plan of a pipeline with these stages (YAML flow mappings) and, optionally, more top-level keys. */
export function planOf(stages: string[], extra = ''): Plan {
  return compileSmall(smallPipeline(stages, { extra }), INPUTS).plan;
}
