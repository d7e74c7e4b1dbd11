import type { PlanStage, TrainTask } from '../../../plan/types.js';
import { cachedWeights, keepInCache, stageKey } from '../../cache/stage-cache.js';
import type { EpochMetrics } from '../../events.js';
import { setBatchNormPolicy } from '../../model/frozen-batch-norm.js';
import { setTrainableLayers } from '../../model/trainable-layers.js';
import { alignedModel, StageAligner } from '../../adapt/stage-alignment.js';
import { targetSource } from '../../data/target-images.js';
import {
  checkpointDomainClassifier,
  checkpointOptimizers,
  checkpointWeights,
  type StageSummary,
} from '../../train/checkpoints.js';
import { trainStage, type StageResume } from '../../train/train-stage.js';
import type { PositionWeights } from '../../data/batches.js';
import type { RunContext } from '../run-context.js';
import type { TaskInputs, Training } from '../task-results.js';

/**
 * One training stage. A head-only stage trains the head on the features
 * task before it; a stage that unfreezes base layers runs images through the
 * whole model, or the layers above its frozen prefix on the prefix's output.
 * Each epoch may checkpoint; the finished stage goes to the stage cache.
 */
export async function runTrainTask(task: TrainTask, inputs: TaskInputs['train'], run: RunContext): Promise<Training> {
  const { plan, options, models } = run;
  const stage = plan.stages[task.stage]!;
  setTrainableLayers(run.inputs.base, new Set(stage.trainableBaseLayers));
  setBatchNormPolicy(run.inputs.base, stage.batchNorm);
  // On features: the head; on a frozen prefix's output: the layers above it; else the whole model.
  const boundary = inputs.features?.boundary;
  const model = boundary ? models.suffix(boundary) : models.model(task.features ? 'head' : 'full');
  const saved = models.model(stage.weights);
  const resume = stageResume(stage, run);
  const sources = task.features ? inputs.features?.sources : inputs.data;
  if (!sources?.train) throw new Error(`stage ${stage.name} has no training examples`);
  const before = inputs.train?.stages ?? [];
  const history: EpochMetrics[] = [...(inputs.train?.history ?? [])];
  options.onEvent({
    type: 'stage-start',
    stage: stage.name,
    index: stage.index,
    epochs: stage.epochs,
    firstEpoch: stage.firstEpoch,
  });
  const outcome = await trainStage(
    model,
    stage,
    {
      train: sources.train,
      ...(sources.validation ? { validation: sources.validation } : {}),
      ...sourceWeights(run.inputs),
    },
    plan.loss,
    run.streams.get('shuffle'),
    {
      onEvent: (event) => {
        if (event.type === 'epoch-end') history.push(event.metrics);
        options.onEvent(event);
      },
      ...(options.signal ? { signal: options.signal } : {}),
      onEpochEnd: async (end) => {
        const dir = await run.checkpoints.afterEpoch(end, {
          stage,
          model: saved,
          kind: stage.weights,
          random: run.streams.snapshot(),
          completedStages: before,
        });
        if (dir) options.onEvent({ type: 'checkpoint', stage: stage.name, epoch: end.metrics.epoch, dir });
      },
    },
    resume,
    stageAligner(stage, run),
  );
  const stages: StageSummary[] = [...before, { name: stage.name, epochs: stage.epochs, ...outcome }];
  // A resumed run lacks the metrics of epochs before it resumed, so it leaves nothing to reuse.
  if (options.cache && !run.resumed) {
    const { cache } = options;
    const entry = {
      kind: stage.weights,
      ...(await cachedWeights(saved)),
      random: run.streams.snapshot(),
      completedStages: [...stages],
      metrics: [...history],
    };
    const key = stageKey(stage, run.inputs.backend.name);
    await keepInCache(`stage \`${stage.name}\``, () => cache.writeStage(key, entry), options.onEvent);
    await run.stageClaim.release(key);
  }
  options.onEvent({
    type: 'stage-end',
    stage: stage.name,
    epochsRun: outcome.epochsRun,
    stoppedEarly: outcome.stoppedEarly,
    ...(outcome.restoredEpoch !== undefined ? { restoredEpoch: outcome.restoredEpoch } : {}),
  });
  return { stages, history };
}

/** `adapt.method: coral | dann`: the stage's alignment with the run's target images, whose order the run's `target` stream draws. */
function stageAligner(stage: PlanStage, run: RunContext): StageAligner | undefined {
  const alignment = stage.alignment;
  if (!alignment) return undefined;
  const { target, preprocessing, base } = run.inputs;
  if (!target || preprocessing.kind !== 'image')
    throw new Error(`stage ${stage.name} aligns to target images, and the run has none`);
  return new StageAligner({
    alignment,
    model: alignedModel(run.models.full, base),
    base,
    target: targetSource(target, preprocessing),
    order: run.streams.get('target'),
    seed: run.plan.seed,
    stage: stage.name,
  });
}

/**
 * dataset.source: the training examples' loss weights by position. The
 * source's examples end the training selection, so each training source
 * (images, features, a frozen prefix's rows) has them at the same positions.
 */
export function sourceWeights(inputs: Pick<RunContext['inputs'], 'source'>): { weights?: PositionWeights } {
  const { source } = inputs;
  return source ? { weights: { from: source.from, weights: source.weights, decay: source.decay } } : {};
}

/** Where the stage continues when the run resumes inside it: its trainer state and optimizers, and its best epoch for early stopping to restore. */
function stageResume(stage: PlanStage, run: RunContext): StageResume | undefined {
  const point = run.resumePoint?.state.stageIndex === stage.index ? run.resumePoint : undefined;
  if (!point) return undefined;
  // The stage's best epoch, verified when the resume point was chosen.
  const best =
    stage.earlyStopping?.restoreBest && point.stageBest?.entry.stage === stage.name ? point.stageBest : undefined;
  return {
    state: point.state.stageState,
    optimizers: checkpointOptimizers(point),
    ...(stage.alignment?.method === 'dann' ? { domainClassifier: checkpointDomainClassifier(point) } : {}),
    ...(best ? { bestWeights: checkpointWeights(best, run.models.model(stage.weights)) } : {}),
  };
}
