import type { Plan, PlanTask } from '../../plan/types.js';
import { claimEntry, decodeCachedWeights, stageKey, type CachedStage, type StageCache } from '../cache/stage-cache.js';
import { RunInterrupted } from '../errors.js';
import type { RunInputs } from '../facts/gather-facts.js';
import { RandomStreams } from '../random.js';
import { weightsFitProblem } from '../train/checkpoint-checks.js';
import { CheckpointWriter, checkpointWeights, chooseResumePoint } from '../train/checkpoints.js';
import { RunState, type PlanOutcome, type RunPlanOptions } from './run-state.js';
import { runBaseTask } from './tasks/base.js';
import { runBaselineTask } from './tasks/baseline.js';
import { runDataTask } from './tasks/data.js';
import { runEvaluateTask } from './tasks/evaluate.js';
import { runExportTask } from './tasks/export.js';
import { runFeaturesTask } from './tasks/features.js';
import { runHeadTask } from './tasks/head.js';
import { runTrainTask } from './tasks/train.js';

export type { PlanOutcome, RunPlanOptions } from './run-state.js';

type Executors = { [K in PlanTask['kind']]: (task: Extract<PlanTask, { kind: K }>, state: RunState) => Promise<void> };

/** One small executor per kind of task. */
const EXECUTORS: Executors = {
  data: runDataTask,
  base: runBaseTask,
  head: runHeadTask,
  features: runFeaturesTask,
  train: runTrainTask,
  evaluate: runEvaluateTask,
  baseline: runBaselineTask,
  export: runExportTask,
};

/** Tasks that make in-memory state every later task needs; they run whatever point the run starts from. */
const SETUP: ReadonlySet<PlanTask['kind']> = new Set(['data', 'base', 'head']);

function execute(task: PlanTask, state: RunState): Promise<void> {
  return (EXECUTORS[task.kind] as (task: PlanTask, state: RunState) => Promise<void>)(task, state);
}

/**
 * Runs a compiled plan: a loop over `plan.tasks`. Where it starts is decided
 * once, before the loop, by what can be restored: a checkpoint of this run
 * (resume), or the leading stages an earlier run with the same plan left in
 * the stage cache. Tasks before that point are skipped, except the setup
 * tasks and the features tasks that later tasks train or evaluate on.
 */
export async function runPlan(plan: Plan, inputs: RunInputs, options: RunPlanOptions): Promise<PlanOutcome> {
  const state = new RunState(plan, inputs, options, new RandomStreams(plan.seed));
  try {
    for (const task of plan.tasks.filter((t) => SETUP.has(t.kind))) await execute(task, state);
    const runs = tasksFrom(plan, await restore(state));
    for (const [index, task] of plan.tasks.entries()) {
      if (SETUP.has(task.kind) || !runs.has(index)) continue;
      if (options.signal?.aborted) throw new RunInterrupted();
      await execute(task, state);
    }
    return outcome(state);
  } finally {
    await state.dispose();
  }
}

/**
 * Puts back what a checkpoint or the stage cache holds and returns the index
 * of the first stage still to train (`plan.stages.length` when none is).
 */
async function restore(state: RunState): Promise<number> {
  const { plan, options } = state;
  // Resuming a run that died before its first checkpoint (or whose every checkpoint is damaged) starts it over, in the same directory.
  let choice = options.resume ? options.resumeFrom : undefined;
  if (options.resume && !choice) {
    choice = await chooseResumePoint(options.output, plan);
    for (const message of choice.warnings) options.onEvent({ type: 'log', level: 'warn', message });
  }
  const point = choice?.point;
  state.checkpoints = new CheckpointWriter(options.output, plan.checkpoints, choice?.index);
  state.resumed = options.resume === true;
  if (point) {
    state.streams.restore(point.state.random);
    state.stages.push(...point.state.completedStages);
    const model = state.model(point.state.model);
    model.loadWeights(checkpointWeights(point, model));
    state.resumePoint = point;
    options.onEvent({ type: 'log', level: 'info', message: `resumed from ${point.entry.dir} (stage ${point.state.stage}, epoch ${point.state.epoch})` });
    return point.state.stageIndex;
  }
  if (!options.cache || options.resume) return 0;
  // The longest run of leading stages an earlier run finished with the same plan: their weights,
  // random streams and metrics are taken as they are, and training starts after them.
  let reused: CachedStage | undefined;
  let count = 0;
  for (const stage of plan.stages) {
    const key = stageKey(stage, state.backend);
    let cached = await fittingStage(options.cache, key, state, options);
    if (!cached) {
      // Single-flight: a run training this very stage now is waited for; else this run trains it, and holds the claim until the entry is written.
      const release = await claimEntry(options.cache, 'stages', key, `training stage \`${stage.name}\` of the same plan (trained once, then shared)`, options);
      cached = await fittingStage(options.cache, key, state, options);
      if (!cached) {
        state.stageClaim = { key, release };
        break;
      }
      await release();
    }
    reused = cached;
    count++;
  }
  if (!reused) return 0;
  state.model(reused.kind).loadWeights(decodeCachedWeights(reused));
  state.streams.restore(reused.random);
  state.stages.push(...reused.completedStages);
  for (const metrics of reused.metrics) {
    const row = { ...metrics, reused: true as const };
    state.history.push(row);
    options.onEvent({ type: 'epoch-end', metrics: row });
  }
  for (const stage of plan.stages.slice(0, count)) options.onEvent({ type: 'stage-reused', stage: stage.name, epochs: state.stages[stage.index]?.epochsRun ?? stage.epochs });
  return count;
}

/**
 * A cached stage whose weights fit the model this run built, or undefined: an
 * entry can pass its manifest and still name weights of other shapes (written
 * by hand, or by another tlpipe); it is said, and training the stage again
 * writes the entry anew.
 */
async function fittingStage(cache: StageCache, key: string, state: RunState, options: Pick<RunPlanOptions, 'onEvent'>): Promise<CachedStage | undefined> {
  const cached = await cache.readStage(key);
  if (!cached) return undefined;
  const problem = weightsFitProblem(state.model(cached.kind), cached.weightSpecs);
  if (!problem) return cached;
  options.onEvent({ type: 'log', level: 'warn', message: `the stage cache entry ${key.slice(0, 12)}… does not fit this model (${problem}); the stage is trained again and the entry rewritten` });
  return undefined;
}

/**
 * The tasks to run when training starts at stage `firstStage`: its train task
 * and every task after it, plus the features tasks made earlier that those
 * train or evaluate on (features live in memory, so they are made again,
 * from the stage cache when it has them).
 */
export function tasksFrom(plan: Plan, firstStage: number): Set<number> {
  const trainAt = plan.tasks.findIndex((t) => t.kind === 'train' && t.stage >= firstStage);
  const afterTraining = plan.tasks.reduce((after, t, i) => (t.kind === 'train' ? i + 1 : after), 0);
  const first = trainAt >= 0 ? trainAt : afterTraining;
  const runs = new Set(plan.tasks.map((_, i) => i).filter((i) => i >= first));
  const needed = new Set(plan.tasks.slice(first).flatMap((t) => t.dependsOn));
  plan.tasks.forEach((t, i) => {
    if (i < first && t.kind === 'features' && needed.has(t.id)) runs.add(i);
  });
  return runs;
}

function outcome(state: RunState): PlanOutcome {
  const { inputs } = state;
  const { selection, dataset } = inputs;
  return {
    backend: state.backend,
    data: {
      counts: { train: selection.train.length, validation: selection.validation.length, test: selection.test.length },
      storage: dataset.storage,
      skipped: dataset.skipped,
      ignored: dataset.ignored.length,
    },
    stages: state.stages,
    ...(state.test ? { test: state.test } : {}),
    ...(state.gallery ? { gallery: state.gallery } : {}),
    ...(state.baseline ? { baseline: state.baseline } : {}),
    export: state.exported!,
  };
}
