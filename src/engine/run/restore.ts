import { claimEntry, decodeCachedWeights, stageKey, type CachedStage, type StageCache } from '../cache/stage-cache.js';
import type { EventListener } from '../events.js';
import { weightsFitProblem } from '../train/checkpoint-checks.js';
import { CheckpointWriter, checkpointWeights, chooseResumePoint, type ResumeChoice } from '../train/checkpoints.js';
import { StageClaim, type SetupContext } from './run-context.js';
import type { RunModels } from './run-models.js';
import type { Training } from './task-results.js';

/** What a run starts from: put back from a checkpoint of its own or from the stage cache, or nothing. */
export interface Restored {
  /** The index of the first stage still to train (`plan.stages.length` when none is). */
  firstStage: number;
  checkpoints: CheckpointWriter;
  /** The stages finished before `firstStage`: the output of the train task of stage `firstStage - 1`. */
  training?: Training;
  /** The checkpoint the train task of its stage continues from. */
  resumePoint?: ResumeChoice['point'];
  /** The stage cache entry this run is to train, claimed so that a run needing the same stage waits for it. */
  stageClaim: StageClaim;
}

/**
 * Puts back what a checkpoint (resume) or the stage cache holds into the
 * models and random streams, and says where training starts.
 */
export async function restore(run: SetupContext, models: RunModels): Promise<Restored> {
  const { plan, options } = run;
  // Resuming a run that died before its first checkpoint (or whose every checkpoint is damaged) starts it over, in the same directory.
  let choice = options.resume ? options.resumeFrom : undefined;
  if (options.resume && !choice) {
    choice = await chooseResumePoint(options.output, plan);
    for (const message of choice.warnings) options.onEvent({ type: 'log', level: 'warn', message });
  }
  const checkpoints = new CheckpointWriter(options.output, plan.checkpoints, choice?.index);
  const point = choice?.point;
  if (point) {
    run.streams.restore(point.state.random);
    const model = models.model(point.state.model);
    model.loadWeights(checkpointWeights(point, model));
    options.onEvent({
      type: 'log',
      level: 'info',
      message: `resumed from ${point.entry.dir} (stage ${point.state.stage}, epoch ${point.state.epoch})`,
    });
    return {
      firstStage: point.state.stageIndex,
      checkpoints,
      training: { stages: [...point.state.completedStages], history: [] },
      resumePoint: point,
      stageClaim: new StageClaim(),
    };
  }
  if (!options.cache || options.resume) return { firstStage: 0, checkpoints, stageClaim: new StageClaim() };
  return { ...(await fromStageCache(run, models, options.cache)), checkpoints };
}

/**
 * The longest run of leading stages an earlier run finished with the same
 * plan: their weights, random streams and metrics are taken as they are,
 * and training starts after them.
 */
async function fromStageCache(
  run: SetupContext,
  models: RunModels,
  cache: StageCache,
): Promise<Omit<Restored, 'checkpoints'>> {
  const { plan, options } = run;
  const backend = run.inputs.backend.name;
  let reused: CachedStage | undefined;
  let count = 0;
  let stageClaim = new StageClaim();
  for (const stage of plan.stages) {
    const key = stageKey(stage, backend);
    let cached = await fittingStage(cache, key, models, options.onEvent);
    if (!cached) {
      // Single-flight: a run training this very stage now is waited for; else this run trains it, and holds the claim until the entry is written.
      const release = await claimEntry(
        cache,
        'stages',
        key,
        `training stage \`${stage.name}\` of the same plan (trained once, then shared)`,
        options,
      );
      cached = await fittingStage(cache, key, models, options.onEvent);
      if (!cached) {
        stageClaim = new StageClaim({ key, release });
        break;
      }
      await release();
    }
    reused = cached;
    count++;
  }
  if (!reused) return { firstStage: 0, stageClaim };
  try {
    models.model(reused.kind).loadWeights(decodeCachedWeights(reused));
  } catch (error) {
    await stageClaim.release();
    throw error;
  }
  run.streams.restore(reused.random);
  const training: Training = { stages: [...reused.completedStages], history: [] };
  for (const metrics of reused.metrics) {
    const row = { ...metrics, reused: true as const };
    training.history.push(row);
    options.onEvent({ type: 'epoch-end', metrics: row });
  }
  for (const stage of plan.stages.slice(0, count))
    options.onEvent({
      type: 'stage-reused',
      stage: stage.name,
      epochs: training.stages[stage.index]?.epochsRun ?? stage.epochs,
    });
  return { firstStage: count, training, stageClaim };
}

/**
 * A cached stage whose weights fit the model this run built, or undefined: an
 * entry can pass its manifest and still name weights of other shapes (written
 * by hand, or by another tlpipe); it is said, and training the stage again
 * writes the entry anew.
 */
async function fittingStage(
  cache: StageCache,
  key: string,
  models: RunModels,
  onEvent: EventListener,
): Promise<CachedStage | undefined> {
  const cached = await cache.readStage(key);
  if (!cached) return undefined;
  const problem = weightsFitProblem(models.model(cached.kind), cached.weightSpecs);
  if (!problem) return cached;
  onEvent({
    type: 'log',
    level: 'warn',
    message: `the stage cache entry ${key.slice(0, 12)}… does not fit this model (${problem}); the stage is trained again and the entry rewritten`,
  });
  return undefined;
}
