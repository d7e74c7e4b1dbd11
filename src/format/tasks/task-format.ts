import type { SpecRule } from '../rules.js';

/**
 * What a task is in the pipeline file: the name users write under `task:`,
 * the sentence editors show for it, and the checks it adds on the resolved
 * spec. The plan (plan/tasks) and the engine (engine/tasks) each have their
 * own part of a task, registered under the same name; the compiler checks
 * every registry has every task.
 */
export interface TaskFormat {
  /** What this task predicts, in one sentence (the schema's description lists them). */
  description: string;
  /** Named checks that hold only for this task, run after the common rules. */
  rules: readonly SpecRule[];
}
