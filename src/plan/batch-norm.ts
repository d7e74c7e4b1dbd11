import { headLayerEntry } from '../format/head-layers/registry.js';
import type { Plan, PlanStage } from './types.js';

/** Whether a head layer builds a batch-norm layer: its own entry says, by the Keras layers it is made of (upsample has one). */
const buildsBatchNorm = (layer: Plan['head'][number]): boolean =>
  headLayerEntry(layer.type)
    .keras(layer as never, { name: 'probe', nextSeed: () => 0 })
    .some((k) => k.className === 'BatchNormalization');

/** Whether the network has a batch-norm layer, in the kept base or in the head. */
export const hasBatchNorm = (plan: Pick<Plan, 'base' | 'head'>): boolean =>
  plan.base.layers.some((l) => l.className === 'BatchNormalization') || plan.head.some(buildsBatchNorm);

/**
 * What a stage does to batch norm, true for every network: a stage that
 * trains only the head leaves the base's batch norm as it is ('–'), and a
 * network without batch norm has nothing to freeze or train.
 */
export function stageBatchNorm(
  plan: Pick<Plan, 'base' | 'head'>,
  stage: Pick<PlanStage, 'trainable' | 'batchNorm'>,
): string {
  if (stage.trainable === 'head') return '–';
  return hasBatchNorm(plan) ? stage.batchNorm : 'none in the network';
}
