import type { StageSpec } from '../../format/types.js';
import type { PlanInputs, PlanStage } from '../types.js';
import { groupByLearningRate } from './parameter-groups.js';

/** How a stage trains: the settings its train task's config and its `plan.stages` entry share, in that order. */
export type StageTraining = Pick<
  PlanStage,
  | 'batchSize'
  | 'optimizer'
  | 'parameterGroups'
  | 'schedule'
  | 'earlyStopping'
  | 'reduceLROnPlateau'
  | 'classWeights'
  | 'labelSmoothing'
>;

export function stageTraining(stage: StageSpec, baseLayers: string[], inputs: PlanInputs): StageTraining {
  const classWeights = stage.classWeights === 'balanced' ? balancedClassWeights(inputs.dataset.trainPerClass) : null;
  const parameterGroups = groupByLearningRate(stage.optimizer, baseLayers);
  return {
    batchSize: stage.batchSize,
    optimizer: stage.optimizer,
    parameterGroups,
    schedule: stage.schedule,
    ...(stage.earlyStopping ? { earlyStopping: stage.earlyStopping } : {}),
    ...(stage.reduceLROnPlateau ? { reduceLROnPlateau: stage.reduceLROnPlateau } : {}),
    classWeights,
    labelSmoothing: stage.labelSmoothing,
  };
}

/** n / (classes × n_class), as scikit-learn's and Keras' "balanced"; a class with no examples weighs 0. */
export function balancedClassWeights(perClass: number[]): number[] {
  const total = perClass.reduce((a, b) => a + b, 0);
  return perClass.map((n) => (n === 0 ? 0 : total / (perClass.length * n)));
}
