import { fingerprint } from '../fingerprint.js';
import type { PlanTask } from '../types.js';

/** A task without its fingerprint: what a step drafts. */
export type TaskDraft<T extends PlanTask> = Omit<T, 'fingerprint'>;

/**
 * The task with its fingerprint, which covers its kind, its config and the
 * fingerprints of the tasks it depends on: those come earlier in `before`,
 * so the list stays in the order the runner executes it.
 */
export function fingerprinted<T extends PlanTask>(before: readonly PlanTask[], draft: TaskDraft<T>): T {
  const upstream = draft.dependsOn.map((dep) => before.find((t) => t.id === dep)!.fingerprint);
  return { ...draft, fingerprint: fingerprint({ kind: draft.kind, config: draft.config, upstream }) } as T;
}

/** The tasks with the drafted one fingerprinted and appended. */
export function withTask<T extends PlanTask>(before: readonly PlanTask[], draft: TaskDraft<T>): PlanTask[] {
  return [...before, fingerprinted(before, draft)];
}
