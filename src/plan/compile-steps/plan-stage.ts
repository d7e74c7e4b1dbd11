import { datasetInput, examplesNoun } from '../../format/dataset-formats/input.js';
import { isNoBase } from '../../format/rules.js';
import type { StageSpec } from '../../format/types.js';
import { describeSchedule } from '../learning-rate-schedule.js';
import type { PlanStage, TrainTask } from '../types.js';
import { stageInput, type StageInput } from './stage-input.js';
import { stageTraining, type StageTraining } from './stage-training.js';
import type { StageContext, StagesSoFar } from './stages-so-far.js';
import { fingerprinted } from './task-list.js';
import { foldConfig } from '../stratified-folds.js';

/**
 * One stage planned: the reducer over `train.stages`. The stage's train task
 * (after the features it trains on, when it needs new ones) and its
 * `plan.stages` entry are appended; what the next stage needs is carried on.
 */
export const planStage =
  (context: StageContext) =>
  (before: StagesSoFar, stage: StageSpec): StagesSoFar => {
    const { inputs } = context;
    const index = before.stages.length;
    const id = `train:${stage.name}`;
    const baseLayers = context.trainableByStage[index]!;
    const trainable: PlanStage['trainable'] = baseLayers.length > 0 ? 'base+head' : 'head';
    const baseChanged = before.baseChanged || trainable === 'base+head';
    const training = stageTraining(stage, baseLayers, inputs);
    const source = stageInput(context, before, stage.name, baseLayers);
    const task = fingerprinted<TrainTask>(source.tasks, {
      id,
      kind: 'train',
      stage: index,
      ...(source.input ? { features: source.input.id } : {}),
      dependsOn: [before.previous, 'data', ...(source.input ? [source.input.id] : [])],
      description: describeTraining(context, stage, training, baseLayers, source),
      config: {
        stage: stage.name,
        index,
        epochs: stage.epochs,
        ...training,
        trainable,
        trainableBaseLayers: baseLayers,
        batchNorm: stage.batchNorm,
        seed: context.spec.seed,
        ...foldConfig(context.spec),
      },
    });
    const baseTrainableParams = inputs.base.layers
      .filter((l) => baseLayers.includes(l.name))
      .reduce((sum, l) => sum + l.params, 0);
    const planned: PlanStage = {
      name: stage.name,
      index,
      taskId: id,
      epochs: stage.epochs,
      firstEpoch: before.epochs + 1,
      lastEpoch: before.epochs + stage.epochs,
      ...training,
      trainable,
      weights: baseChanged ? 'full' : 'head',
      trainableBaseLayers: baseLayers,
      batchNorm: stage.batchNorm,
      ...(source.prefix ? { frozenPrefix: source.prefix } : source.whole !== undefined ? { whole: source.whole } : {}),
      trainableParams: context.headParams + baseTrainableParams,
      totalParams: context.headParams + inputs.base.paramCount,
      fingerprint: task.fingerprint,
    };
    return {
      tasks: [...source.tasks, task],
      stages: [...before.stages, planned],
      epochs: before.epochs + stage.epochs,
      previous: id,
      baseSetBy: trainable === 'base+head' ? id : before.baseSetBy,
      setupBase: before.setupBase,
      baseChanged,
      features: source.features,
      lastTrainedBy: new Map([...before.lastTrainedBy, ...baseLayers.map((layer): [string, string] => [layer, id])]),
    };
  };

/** The train task's description: what learns, for how long, how fast, on what. */
function describeTraining(
  context: StageContext,
  stage: StageSpec,
  training: StageTraining,
  baseLayers: string[],
  source: StageInput,
): string {
  const what = baseLayers.length === 0 ? 'the head' : `the head and ${baseLayers.length} base layer(s)`;
  const { parameterGroups } = training;
  const distinctRates = new Set(parameterGroups.map((g) => g.learningRate)).size > 1;
  const rates = distinctRates
    ? parameterGroups.map((g) => `${g.name} ${g.learningRate}`).join(', ')
    : String(stage.optimizer.learningRate);
  const prefix = source.prefix;
  const examples = examplesNoun(datasetInput(context.spec.dataset));
  const on = isNoBase(context.spec.base.model)
    ? `, on the ${examples}`
    : baseLayers.length === 0
      ? source.whole !== undefined
        ? ', images through the whole model'
        : ''
      : prefix
        ? `, above ${prefix.boundary} (the frozen prefix's output, ${prefix.mode === 'precompute' ? 'once per example' : 'per batch'})`
        : `, ${examples} through the whole model`;
  return `train ${what} ${stage.epochs} epoch(s), ${stage.optimizer.name} lr ${rates} (${describeSchedule(stage.schedule)}), batch ${stage.batchSize}${on}`;
}
