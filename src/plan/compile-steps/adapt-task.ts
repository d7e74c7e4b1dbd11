import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import { inferenceBatch } from '../memory-estimate.js';
import type { AdaptPlan, AdaptTask, PlanInputs, PlanStage } from '../types.js';
import type { StagesSoFar } from './stages-so-far.js';
import { withTask, type TaskDraft } from './task-list.js';

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
export function adaptRecord(
  spec: PipelineSpec,
  inputs: PlanInputs,
  stages: readonly PlanStage[] = [],
): AdaptPlan | undefined {
  if (!adabn(spec) || !inputs.adapt) return undefined;
  const again = stagesTrainingBatchNorm(stages, inputs);
  return {
    method: 'adabn',
    images: inputs.adapt.images,
    training: inputs.dataset.counts.train,
    batchNormLayers: batchNormLayerCount(inputs),
    ...(again.length > 0 ? { again } : {}),
  };
}

/**
 * The adapt task, after the base: AdaBN on the training images, so the
 * features the head trains on are the source domain normalised by its own
 * statistics (the pretrained ones are another domain's). Its config holds
 * what changes the statistics (the method, the images whose statistics they
 * are, the batch the pass normalises with); the data task it depends on
 * fingerprints the training images.
 */
export function adaptTask(spec: PipelineSpec, inputs: PlanInputs): TaskDraft<AdaptTask> | undefined {
  const record = adaptRecord(spec, inputs);
  if (!record || !inputs.adapt) return undefined;
  return {
    id: 'adapt',
    kind: 'adapt',
    after: 'base',
    on: 'training',
    dependsOn: ['data', 'base'],
    description: `adapt: AdaBN re-estimates ${record.batchNormLayers} batch-norm layers' statistics on the ${record.training} training images, which the head trains with; no other weight changes`,
    config: { method: record.method, on: 'training', batchSize: inferenceBatch(inputs.base.layers) },
  };
}

/** Stages that train batch-norm statistics on the training images: `batchNorm: train` with a batch-norm layer among those they train. */
export function stagesTrainingBatchNorm(stages: readonly PlanStage[], inputs: Pick<PlanInputs, 'base'>): string[] {
  const batchNorm = new Set(inputs.base.layers.filter((l) => l.className === 'BatchNormalization').map((l) => l.name));
  return stages
    .filter((s) => s.batchNorm === 'train' && s.trainableBaseLayers.some((layer) => batchNorm.has(layer)))
    .map((s) => s.name);
}

/**
 * After the stages: AdaBN on the target images, on the base as the stages
 * left it, so the evaluation and the exported model normalise as the target
 * domain (the paper's test-time step). What comes after reads the model from
 * here: the evaluation and the decision rule run the whole model on images,
 * since the features made before have the training images' statistics.
 */
export function adaptAgain(spec: PipelineSpec, inputs: PlanInputs, trained: StagesSoFar): StagesSoFar {
  const record = adaptRecord(spec, inputs, trained.stages);
  if (!record || !inputs.adapt) return trained;
  const again = record.again ?? [];
  const draft: TaskDraft<AdaptTask> = {
    id: 'adapt:target',
    kind: 'adapt',
    after: 'stages',
    on: 'target',
    dependsOn: [trained.previous],
    description: `adapt to the target: AdaBN re-estimates the ${record.batchNormLayers} layers' statistics on the ${record.images} target images (adapt.images)${again.length > 0 ? `, after stage${again.length > 1 ? 's' : ''} ${again.map((s) => `\`${s}\``).join(', ')} trained them on the training images` : ''}, for the evaluation and the exported model`,
    config: {
      method: record.method,
      on: 'target',
      images: record.images,
      digest: inputs.adapt.digest,
      batchSize: inferenceBatch(inputs.base.layers),
    },
  };
  // The base is as this task leaves it: what reads the base after the stages (a shift measured after them) depends on it.
  return {
    ...trained,
    tasks: withTask<AdaptTask>(trained.tasks, draft),
    previous: draft.id,
    baseSetBy: draft.id,
    features: undefined,
  };
}
