import type { PipelineSpec } from '../../format/types.js';
import type { PlanInputs, StageAlignment } from '../types.js';

/**
 * A stage's learned alignment (`adapt.method: coral | dann`): only a stage
 * that trains base layers aligns, since a frozen base's features cannot
 * move. The target images' digest and count are part of it, so its
 * fingerprint changes when they do.
 */
export function stageAlignment(
  spec: PipelineSpec,
  inputs: PlanInputs,
  baseLayers: readonly string[],
): StageAlignment | undefined {
  const adapt = spec.adapt;
  if (!adapt || (adapt.method !== 'coral' && adapt.method !== 'dann') || baseLayers.length === 0) return undefined;
  return {
    method: adapt.method,
    weight: adapt.weight,
    targetDigest: inputs.adapt?.digest ?? 'unread',
    targetCount: inputs.adapt?.images ?? 0,
  };
}

/** What a stage's alignment does, for the plan's text. */
export function describeAlignment(alignment: StageAlignment): string {
  const on = `${alignment.targetCount} target image(s)`;
  return alignment.method === 'coral'
    ? `aligned to ${on} by CORAL × ${alignment.weight} on the base's pooled output`
    : `aligned to ${on} by a domain classifier through gradient reversal (scale up to ${alignment.weight})`;
}
