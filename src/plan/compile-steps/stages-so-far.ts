import type { PipelineSpec } from '../../format/types.js';
import type { FeaturesTask, Plan, PlanInputs, PlanStage, PlanTask, ResolvedHeadLayer } from '../types.js';

/** What the stages planned so far leave for the next one: the accumulator of the reduction over stages. */
export interface StagesSoFar {
  tasks: readonly PlanTask[];
  stages: readonly PlanStage[];
  /** Epochs trained so far: epochs are numbered continuously across stages. */
  epochs: number;
  /** The task the next one continues from: the head, then the last stage. */
  previous: string;
  /** The task that last set the base: the base task (the adapt task after it, when there is one), or a stage that fine-tuned it. */
  baseSetBy: string;
  /** The task that set the base before any stage: the base task, or the adapt task after it. */
  setupBase: string;
  /** Whether a stage has changed the base: from then on checkpoints hold the full model. */
  baseChanged: boolean;
  /** The features head-only stages train on, made by the first of them after the base last changed. */
  features: FeaturesTask | undefined;
  /** Which stage last trained each base layer: a prefix's output depends on the latest that trained one of its layers. */
  lastTrainedBy: ReadonlyMap<string, string>;
}

/** Before the first stage: the setup tasks, the base as the base task (or the adapt task) made it. */
export function noStagesYet(tasks: readonly PlanTask[]): StagesSoFar {
  const setupBase = tasks.some((t) => t.kind === 'adapt') ? 'adapt' : 'base';
  return {
    tasks,
    stages: [],
    epochs: 0,
    previous: 'head',
    baseSetBy: setupBase,
    setupBase,
    baseChanged: false,
    features: undefined,
    lastTrainedBy: new Map(),
  };
}

/** What every stage's step reads and none changes. */
export interface StageContext {
  spec: PipelineSpec;
  inputs: PlanInputs;
  head: ResolvedHeadLayer[];
  features: Plan['features'];
  /** Each stage's trainable base layers, by stage index. */
  trainableByStage: readonly string[][];
  headParams: number;
  /** Whether fine-tuning stages train above their frozen prefix (PlanOptions.frozenPrefix). */
  splitPrefix: boolean;
  /** Why every stage runs images through the whole model, when the task's targets cannot be stored beside features. */
  imagesOnly?: string;
}
