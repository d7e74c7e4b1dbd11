import type { PlanInputs, PlanStage } from './types.js';

type BaseLayer = PlanInputs['base']['layers'][number];

/** Layer classes whose output is random while training: a prefix holding one is not a fixed function. */
const RANDOM_IN_TRAINING = new Set([
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'SpatialDropout3D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
]);

/** Cached prefix activations beyond this are recomputed every batch instead (they live in the process's memory, outside the wasm heap). */
export const MAX_CACHED_PREFIX_BYTES = 2 * 2 ** 30;

/**
 * Where a fine-tuning stage's frozen part ends. Every base layer that
 * neither learns nor depends on a layer that learns computes the same
 * output for an example every epoch (its batch norm is in inference mode,
 * as a frozen layer's always is): that prefix is a fixed function, and the
 * stage trains only what lies above it, on its output. Pure.
 */
export type FrozenPrefix =
  { kind: 'split'; boundary: string; shape: number[]; layers: string[] } | { kind: 'none'; reason: string };

export function frozenPrefix(layers: readonly BaseLayer[], trainable: ReadonlySet<string>): FrozenPrefix {
  if (layers.some((l) => l.inbound === undefined || l.outputShape === undefined))
    return { kind: 'none', reason: "the base's layer graph is not recorded" };
  const known = new Set(layers.map((l) => l.name));
  // In model order, which is topological: a layer is above the prefix if it learns or reads from a layer that is.
  const above = new Set<string>();
  for (const layer of layers)
    if (trainable.has(layer.name) || (layer.inbound ?? []).some((name) => above.has(name))) above.add(layer.name);
  const prefix = layers.filter((l) => !above.has(l.name));
  if (prefix.length === 0) return { kind: 'none', reason: 'the stage trains from the first layer' };
  // Prefix outputs (or the image itself) that layers above read.
  const crossing = new Set<string>();
  for (const layer of layers)
    if (above.has(layer.name))
      for (const name of layer.inbound!) if (!above.has(name)) crossing.add(known.has(name) ? name : 'the input');
  if (crossing.has('the input')) return { kind: 'none', reason: 'a layer that learns reads the input image directly' };
  if (crossing.size !== 1)
    return {
      kind: 'none',
      reason: `the frozen layers meet the learning ones at ${crossing.size} tensors (${[...crossing].join(', ')}), not one`,
    };
  const random = prefix.find((l) => RANDOM_IN_TRAINING.has(l.className));
  if (random)
    return {
      kind: 'none',
      reason: `the frozen layer \`${random.name}\` (${random.className}) is random while training`,
    };
  const boundary = [...crossing][0]!;
  return {
    kind: 'split',
    boundary,
    shape: layers.find((l) => l.name === boundary)!.outputShape!,
    layers: prefix.map((l) => l.name),
  };
}

/** How a split stage gets its prefix's output: once per example, or every batch (augmentation, or too large to keep). */
export function prefixMode(
  split: Extract<FrozenPrefix, { kind: 'split' }>,
  examples: number,
  augmented: boolean,
): NonNullable<PlanStage['frozenPrefix']> {
  const bytes = 4 * split.shape.reduce((a, b) => a * b, 1) * examples;
  const base = { boundary: split.boundary, shape: split.shape, layers: split.layers.length, bytes };
  if (augmented) return { ...base, mode: 'perBatch', reason: 'augmentation changes the images every epoch' };
  if (bytes > MAX_CACHED_PREFIX_BYTES)
    return {
      ...base,
      mode: 'perBatch',
      reason: `${(bytes / 2 ** 30).toFixed(2)} GiB of activations would not fit in memory`,
    };
  return { ...base, mode: 'precompute' };
}
