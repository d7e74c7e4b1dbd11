import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import { inferenceBatch } from '../memory-estimate.js';
import type { AdaptPlan, AdaptTask, PlanInputs } from '../types.js';
import type { TaskDraft } from './task-list.js';

/** The base's batch-norm layers below the cut: what AdaBN re-estimates. */
export const batchNormLayerCount = (inputs: Pick<PlanInputs, 'base'>): number =>
  inputs.base.layers.filter((l) => l.className === 'BatchNormalization').length;

/** `adapt.method: adabn` (the other methods are planned with the stages that train). */
const adabn = (spec: PipelineSpec): boolean => spec.adapt?.method === 'adabn';

/** AdaBN on a base with no batch norm below the cut would change nothing: said at adapt.method, not run as a no-op. */
export function adaptProblems(spec: PipelineSpec, inputs: PlanInputs): Diagnostic[] {
  if (!adabn(spec) || batchNormLayerCount(inputs) > 0) return [];
  return [
    {
      file: spec.file,
      severity: 'error',
      path: ['adapt', 'method'],
      locateAt: [['adapt']],
      message: `AdaBN re-estimates batch-norm statistics, but ${spec.base.model} has no BatchNormalization layer below the cut ${spec.base.cut}: AdaBN has nothing to adapt`,
      hint: 'use a base with batch norm below the cut (MobileNet V2, ResNet), or `method: coral` / `method: dann` with a stage that fine-tunes base layers',
    },
  ];
}

/** What `plan` and summary.json say adapts. */
export function adaptRecord(spec: PipelineSpec, inputs: PlanInputs): AdaptPlan | undefined {
  if (!adabn(spec) || !inputs.adapt) return undefined;
  return { method: 'adabn', images: inputs.adapt.images, batchNormLayers: batchNormLayerCount(inputs) };
}

/**
 * The adapt task, after the base: its config holds what changes the
 * statistics it sets (the method, the target images by digest and count,
 * and the batch the pass normalises with), so every task downstream is
 * fingerprinted with them.
 */
export function adaptTask(spec: PipelineSpec, inputs: PlanInputs): TaskDraft<AdaptTask> | undefined {
  const record = adaptRecord(spec, inputs);
  if (!record || !inputs.adapt) return undefined;
  return {
    id: 'adapt',
    kind: 'adapt',
    dependsOn: ['base'],
    description: `adapt: AdaBN re-estimates ${record.batchNormLayers} batch-norm layers' statistics on ${record.images} target images (adapt.images); no other weight changes`,
    config: {
      method: record.method,
      images: record.images,
      digest: inputs.adapt.digest,
      batchSize: inferenceBatch(inputs.base.layers),
    },
  };
}
