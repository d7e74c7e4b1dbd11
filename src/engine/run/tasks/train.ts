import type { TrainTask } from '../../../plan/types.js';
import { cachedWeights, keepInCache, stageKey } from '../../cache/stage-cache.js';
import { setBatchNormPolicy } from '../../model/frozen-batch-norm.js';
import { checkpointOptimizers, checkpointWeights } from '../../train/checkpoints.js';
import { trainStage, type StageResume } from '../../train/train-stage.js';
import type { RunState } from '../run-state.js';

/**
 * One training stage. A head-only stage trains the head on the features
 * task before it; a stage that unfreezes base layers runs images through the
 * whole model, and the features of the base before it are freed. Each epoch
 * may checkpoint; the finished stage goes to the stage cache.
 */
export async function runTrainTask(task: TrainTask, state: RunState): Promise<void> {
  const { plan, inputs, options } = state;
  const stage = plan.stages[task.stage]!;
  // Stored features describe the base before this stage changes it (a frozen prefix's output stays true).
  if (!task.features) state.dropFeatures();
  const trainable = new Set(stage.trainableBaseLayers);
  for (const layer of inputs.base.layers) layer.trainable = trainable.has(layer.name);
  setBatchNormPolicy(inputs.base, stage.batchNorm);
  // On features: the head; on a frozen prefix's output: the layers above it; else the whole model.
  const prefixTask = task.features ? plan.tasks.find((t) => t.id === task.features && t.kind === 'features') : undefined;
  const boundary = prefixTask?.kind === 'features' ? prefixTask.boundary : undefined;
  const model = boundary ? state.suffix(boundary) : state.model(task.features ? 'head' : 'full');
  const saved = state.model(stage.weights);

  let resume: StageResume | undefined;
  const point = state.resumePoint?.state.stageIndex === stage.index ? state.resumePoint : undefined;
  if (point) {
    // The stage's best epoch, verified when the resume point was chosen, for early stopping to restore.
    const best = stage.earlyStopping?.restoreBest && point.stageBest?.entry.stage === stage.name ? point.stageBest : undefined;
    resume = { state: point.state.stageState, optimizers: checkpointOptimizers(point), ...(best ? { bestWeights: checkpointWeights(best, saved) } : {}) };
    state.resumePoint = undefined;
  }
  const sources = task.features ? state.features?.sources : state.examples;
  if (!sources?.train || (task.features && state.features?.task !== task.features)) throw new Error(`stage ${stage.name} needs ${task.features ?? 'the examples'}, which no earlier task made`);
  options.onEvent({ type: 'stage-start', stage: stage.name, index: stage.index, epochs: stage.epochs, firstEpoch: stage.firstEpoch });
  const outcome = await trainStage(model, stage, { train: sources.train, ...(sources.validation ? { validation: sources.validation } : {}) }, plan.loss, state.streams.get('shuffle'), {
    onEvent: (event) => {
      if (event.type === 'epoch-end') state.history.push(event.metrics);
      options.onEvent(event);
    },
    ...(options.signal ? { signal: options.signal } : {}),
    onEpochEnd: async (end) => {
      const dir = await state.checkpoints.afterEpoch(end, { stage, model: saved, kind: stage.weights, random: state.streams.snapshot(), completedStages: state.stages });
      if (dir) options.onEvent({ type: 'checkpoint', stage: stage.name, epoch: end.metrics.epoch, dir });
    },
  }, resume);
  state.stages.push({ name: stage.name, epochs: stage.epochs, ...outcome });
  // A resumed run lacks the metrics of epochs before it resumed, so it leaves nothing to reuse.
  if (options.cache && !state.resumed) {
    const { cache } = options;
    const entry = { kind: stage.weights, ...(await cachedWeights(saved)), random: state.streams.snapshot(), completedStages: [...state.stages], metrics: [...state.history] };
    const key = stageKey(stage, state.backend);
    await keepInCache(`stage \`${stage.name}\``, () => cache.writeStage(key, entry), options.onEvent);
    await state.releaseStageClaim(key);
  }
  options.onEvent({ type: 'stage-end', stage: stage.name, epochsRun: outcome.epochsRun, stoppedEarly: outcome.stoppedEarly, ...(outcome.restoredEpoch !== undefined ? { restoredEpoch: outcome.restoredEpoch } : {}) });
}
