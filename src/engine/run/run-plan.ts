import { taskOf, type Plan, type PlanTask, type TaskKind } from '../../plan/types.js';
import { TASK_ENGINES } from '../tasks/registry.js';
import { RunInterrupted } from '../errors.js';
import type { RunInputs } from '../facts/gather-facts.js';
import { RandomStreams } from '../random.js';
import {
  dataOutcome,
  sourceOutcome,
  FeatureWorkers,
  type PlanOutcome,
  type RunContext,
  type RunPlanOptions,
  type SetupContext,
} from './run-context.js';
import type { RunModels } from './run-models.js';
import { restore, type Restored } from './restore.js';
import { dependencyProblems, unmetReads } from './task-dependencies.js';
import { TaskResults, type TaskInputs, type TaskOf, type TaskOutputs } from './task-results.js';
import { runAdaptTask } from './tasks/adapt.js';
import { runBaseTask } from './tasks/base.js';
import { runBaselineTask } from './tasks/baseline.js';
import { runDataTask } from './tasks/data.js';
import { runDecisionTask } from './tasks/decision.js';
import { runEvaluateTask } from './tasks/evaluate.js';
import { runExportTask } from './tasks/export.js';
import { runFeaturesTask } from './tasks/features.js';
import { runHeadTask } from './tasks/head.js';
import { runTrainTask } from './tasks/train.js';
import { runShiftTask } from './tasks/shift.js';

export type { PlanOutcome, RunPlanOptions } from './run-context.js';

/**
 * Tasks that make what every later task needs (the examples, the frozen
 * base, adapted when the pipeline asks, the models), and the shift measured
 * on the base as cut (before the adapt task or a restored checkpoint
 * changes it); they run whatever point the run starts from.
 */
type SetupKind = 'data' | 'base' | 'adapt' | 'head' | 'shift';
const SETUP: ReadonlySet<TaskKind> = new Set<SetupKind>(['data', 'base', 'adapt', 'head']);
/** A setup task: by its kind, except AdaBN once more after the stages (which runs after them like the tasks around it), and the shift before adaptation. */
const isSetup = (task: PlanTask): boolean =>
  (SETUP.has(task.kind) && !(task.kind === 'adapt' && task.after === 'stages')) ||
  (task.kind === 'shift' && task.when === 'before');

/** An executor gets its task, the outputs of the dependencies it reads, and the run-wide resources; it returns its own output. */
type Executor<K extends TaskKind> = (
  task: TaskOf<K>,
  inputs: TaskInputs[K],
  run: K extends SetupKind ? SetupContext : RunContext,
) => Promise<TaskOutputs[K]>;

/** Kinds of plan task only a task's own runner executes (engine/tasks): never in a staged plan. */
type OwnRunnerKind = 'bank';

/** One small executor per kind of task. */
const EXECUTORS: { [K in Exclude<TaskKind, OwnRunnerKind>]: Executor<K> } = {
  data: runDataTask,
  base: runBaseTask,
  adapt: runAdaptTask,
  head: runHeadTask,
  features: runFeaturesTask,
  train: runTrainTask,
  decision: runDecisionTask,
  evaluate: runEvaluateTask,
  baseline: runBaselineTask,
  shift: runShiftTask,
  export: runExportTask,
};

async function execute(task: PlanTask, results: TaskResults, run: SetupContext | RunContext): Promise<void> {
  if (task.kind === 'bank')
    throw new Error(`a staged plan has no ${task.kind} task; ${taskOf(run.plan)}'s own runner runs it`);
  const executor = EXECUTORS[task.kind] as (
    task: PlanTask,
    inputs: unknown,
    run: SetupContext | RunContext,
  ) => Promise<unknown>;
  results.set(task, (await executor(task, results.inputsOf(task), run)) as TaskOutputs[TaskKind]);
}

/**
 * Runs a compiled plan: a loop over `plan.tasks`, each executor given the
 * outputs of the tasks it depends on. Before any task runs, the plan's
 * dependencies are checked to fit. Where training starts is decided once,
 * after setup, by what can be restored: a checkpoint of this run (resume),
 * or the leading stages an earlier run with the same plan left in the stage
 * cache. Tasks before that point are skipped, except the setup tasks and the
 * features tasks that later tasks train or evaluate on.
 */
export async function runPlan(plan: Plan, inputs: RunInputs, options: RunPlanOptions): Promise<PlanOutcome> {
  const engine = TASK_ENGINES[taskOf(plan)];
  if (engine.runs === 'own') return engine.run(plan, inputs, options);
  const problems = dependencyProblems(plan);
  if (problems.length > 0) throw new Error(`the plan's tasks do not fit together: ${problems.join('; ')}`);
  const setup: SetupContext = { plan, inputs, options, streams: new RandomStreams(plan.seed) };
  const results = new TaskResults(plan.tasks);
  let run: RunContext | undefined;
  try {
    for (const task of plan.tasks.filter(isSetup)) await execute(task, results, setup);
    const models = modelsOf(plan, results);
    // dependencyProblems made sure a plan whose tasks use models has a head task, and setup ran it.
    if (!models) throw new Error('the plan has no head task, so no models to train');
    const restored = await restore(setup, models);
    run = {
      ...setup,
      models,
      checkpoints: restored.checkpoints,
      resumePoint: restored.resumePoint,
      resumed: options.resume === true,
      stageClaim: restored.stageClaim,
      featureWorkers: new FeatureWorkers(),
    };
    const runs = tasksFrom(plan, restored.firstStage);
    keepRestoredTraining(plan, restored, results);
    const unmet = unmetReads(plan, runs, (id) => results.has(id));
    if (unmet.length > 0) throw new Error(`the run cannot start at stage ${restored.firstStage}: ${unmet.join('; ')}`);
    const toRun = plan.tasks.filter((t, i) => runs.has(i) && !isSetup(t));
    for (const [index, task] of toRun.entries()) {
      if (options.signal?.aborted) throw new RunInterrupted();
      await execute(task, results, run);
      results.releaseUnread(toRun.slice(index + 1));
    }
    return outcome(plan, inputs, results);
  } finally {
    // Each step whatever the one before it did: a worker thread left open would keep a trial's process alive.
    await settleAll([
      () => results.dispose(),
      () => run?.stageClaim.release(),
      () => modelsOf(plan, results)?.dispose(),
      () => run?.featureWorkers.close(),
    ]);
  }
}

/** Runs every cleanup step, each even when one before it throws; then throws the first failure. */
async function settleAll(steps: (() => unknown)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}

/** The models the head task built (once setup ran it): run-wide, since every stage changes them in place. */
function modelsOf(plan: Plan, results: TaskResults): RunModels | undefined {
  const head = plan.tasks.find((t): t is TaskOf<'head'> => t.kind === 'head');
  return head && results.get(head);
}

/** The restored stages stand for the output of the train task of the last stage they cover, which the next stage reads. */
function keepRestoredTraining(plan: Plan, restored: Restored, results: TaskResults): void {
  const last = plan.tasks.find((t): t is TaskOf<'train'> => t.kind === 'train' && t.stage === restored.firstStage - 1);
  if (last && restored.training) results.set(last, restored.training);
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

/** What the run produced, from its tasks' outputs: the last train task's stages, the evaluation, the baseline, the export. */
function outcome(plan: Plan, inputs: RunInputs, results: TaskResults): PlanOutcome {
  const last = <K extends TaskKind>(kind: K): TaskOutputs[K] | undefined => {
    const task = [...plan.tasks].reverse().find((t): t is TaskOf<K> => t.kind === kind);
    return task && results.get(task);
  };
  // AdaBN on the training images before the stages, and on the target images after them.
  const adaptations = plan.tasks.flatMap((t) =>
    t.kind === 'adapt' ? [results.get(t)].filter((r) => r !== undefined) : [],
  );
  // The target's pass is the one the exported model carries; the time is both passes'.
  const onTarget = adaptations.find((a) => a.on === 'target') ?? adaptations[adaptations.length - 1];
  const adapted = onTarget && {
    method: onTarget.method,
    on: onTarget.on,
    images: onTarget.images,
    batchNormLayers: onTarget.batchNormLayers,
    seconds: adaptations.reduce((sum, a) => sum + a.seconds, 0),
    reused: adaptations.every((a) => a.reused),
  };
  const evaluation = last('evaluate');
  const baseline = last('baseline');
  const exported = last('export');
  if (!exported) throw new Error('the plan exports no model');
  const shift = domainShiftOutcome(plan, results);
  return {
    backend: inputs.backend.name,
    data: dataOutcome(inputs),
    ...(inputs.source ? { source: sourceOutcome(inputs.source, plan.classes.names)! } : {}),
    stages: last('train')?.stages ?? [],
    ...(adapted ? { adapt: adapted } : {}),
    ...(evaluation ? { test: evaluation.test } : {}),
    ...(evaluation?.gallery ? { gallery: evaluation.gallery } : {}),
    ...(evaluation?.masks ? { masks: evaluation.masks } : {}),
    ...(baseline ? { baseline } : {}),
    ...(shift ? { domainShift: shift } : {}),
    export: exported,
  };
}

/** `adapt:`: the shift before and after adaptation, when both were measured. */
function domainShiftOutcome(plan: Plan, results: TaskResults): PlanOutcome['domainShift'] {
  const measured = (when: 'before' | 'after') => {
    const task = plan.tasks.find((t): t is TaskOf<'shift'> => t.kind === 'shift' && t.when === when);
    return task && results.get(task);
  };
  const before = measured('before');
  const after = measured('after');
  if (!before || !after) return undefined;
  return {
    before: { auroc: before.auroc },
    after: { auroc: after.auroc },
    train: before.train,
    target: before.target,
    features: before.features,
  };
}
