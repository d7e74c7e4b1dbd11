import type { DatasetReport, Evaluation, Prediction } from '../../api/index.js';
import type { TaskName } from '../../format/types.js';
import type { Plan } from '../../plan/types.js';

/**
 * A task's part of what the CLI prints: what its plan does, what of the
 * data it uses, and one prediction. Each task is one module in this folder
 * and one line in registry.ts.
 */
export interface TaskLines<T extends TaskName> {
  /** `tlpipe plan`, under the heading: what the plan does (a staged task: features, loss, checkpoints, what learns). */
  plan(plan: Plan): string[];
  /** `tlpipe data`: which of the examples the task uses, where it uses only some; one paragraph. */
  data?(report: DatasetReport): string | undefined;
  /** Whether a prediction is this task's answer (each task's model answers in its own field). */
  answers(prediction: Prediction): boolean;
  /** `tlpipe predict`: one image's (or row's) answer on one line. */
  prediction(prediction: Prediction): string;
  /** `tlpipe evaluate`: the metrics as a person reads them. */
  evaluation(evaluation: Extract<Evaluation, { task: T }>): string;
}
