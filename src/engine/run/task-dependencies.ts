import type { Plan, PlanTask, TaskKind } from '../../plan/types.js';
import { readDependencies, readsOf } from './task-results.js';

/** Kinds whose executors use the run's models, which the head task builds. */
const USES_MODELS: ReadonlySet<TaskKind> = new Set(['features', 'train', 'decision', 'evaluate', 'export']);

/**
 * Whether the plan's tasks fit together, checked before any of them runs:
 * each dependency names an earlier task, a task depends on one task of a
 * kind at most (its inputs are keyed by kind), and each dependency a task
 * reads is among its own, of the kind that makes what it reads. One
 * sentence per problem, naming the task.
 */
export function dependencyProblems(plan: Plan): string[] {
  const earlier = new Map<string, PlanTask>();
  const problems: string[] = [];
  let head = false;
  for (const task of plan.tasks) {
    problems.push(...taskProblems(task, earlier));
    if (USES_MODELS.has(task.kind) && !head)
      problems.push(`task ${task.id} uses the models, which no head task builds before it`);
    head ||= task.kind === 'head';
    earlier.set(task.id, task);
  }
  return problems;
}

function taskProblems(task: PlanTask, earlier: ReadonlyMap<string, PlanTask>): string[] {
  const problems: string[] = [];
  const kinds = new Map<TaskKind, string>();
  for (const id of task.dependsOn) {
    const dependency = earlier.get(id);
    if (!dependency) {
      problems.push(`task ${task.id} depends on ${id}, which is not an earlier task`);
      continue;
    }
    const same = kinds.get(dependency.kind);
    if (same)
      problems.push(`task ${task.id} depends on two ${dependency.kind} tasks (${same}, ${id}); it can read one`);
    kinds.set(dependency.kind, id);
  }
  for (const read of readsOf(task)) {
    const id = read.id ?? kinds.get(read.kind);
    if (id === undefined) {
      if (!read.optional) problems.push(`task ${task.id} reads ${read.what}, but depends on no ${read.kind} task`);
    } else if (!task.dependsOn.includes(id)) {
      problems.push(`task ${task.id} reads ${read.what}, but does not depend on ${id}`);
    } else if (earlier.get(id) && earlier.get(id)!.kind !== read.kind) {
      problems.push(`task ${task.id} reads ${read.what}, but ${id} is a ${earlier.get(id)!.kind} task`);
    }
  }
  return problems;
}

/**
 * The dependencies that the tasks to run read but that will have no
 * output: neither run before them nor restored. A restore that skipped a
 * task something still reads would otherwise surface mid-run.
 */
export function unmetReads(plan: Plan, runs: ReadonlySet<number>, restored: (id: string) => boolean): string[] {
  const byId = new Map(plan.tasks.map((t) => [t.id, t]));
  const made = new Set<string>();
  const problems: string[] = [];
  for (const [index, task] of plan.tasks.entries()) {
    if (!runs.has(index)) continue;
    for (const { read, id } of readDependencies(task, byId)) {
      if (id !== undefined && !made.has(id) && !restored(id))
        problems.push(`task ${task.id} reads ${read.what} from ${id}, which neither runs before it nor was restored`);
    }
    made.add(task.id);
  }
  return problems;
}
