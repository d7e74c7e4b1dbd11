import type { Plan, PlanInputs, ResolvedHeadLayer } from '../types.js';

/** Stored features beyond this size are recomputed per batch instead (the wasm heap is 4 GiB). */
export const MAX_PRECOMPUTED_FEATURE_BYTES = 1 << 30;

/**
 * How the frozen base feeds the head in head-only stages: its output with
 * the head's leading weightless layers (pooling, flatten) folded in, stored
 * once per example, or computed per batch when augmentation changes the
 * images or the features would not fit in memory.
 */
export function featureMode(
  inputs: PlanInputs,
  head: readonly ResolvedHeadLayer[],
  augmented: boolean,
): Plan['features'] {
  const { train, validation, test } = inputs.dataset.counts;
  let shape = inputs.base.cutOutputShape;
  let headLayersApplied = 0;
  for (const layer of head) {
    if (layer.type === 'globalAveragePooling2d' || layer.type === 'globalMaxPooling2d')
      shape = [shape[shape.length - 1]!];
    else if (layer.type === 'flatten') shape = [shape.reduce((a, b) => a * b, 1)];
    else break;
    headLayersApplied++;
  }
  const bytes = shape.reduce((a, b) => a * b, 1) * 4 * (train + validation + test);
  const perBatch = (reason: string): Plan['features'] => ({
    mode: 'perBatch',
    reason,
    headLayersApplied,
    shape,
    bytes,
  });
  if (augmented)
    return perBatch('augmentation changes every training image each epoch, so the base must see each batch');
  if (bytes > MAX_PRECOMPUTED_FEATURE_BYTES)
    return perBatch(`${(bytes / 2 ** 30).toFixed(2)} GiB of features would not fit in memory`);
  return { mode: 'precompute', headLayersApplied, shape, bytes };
}
