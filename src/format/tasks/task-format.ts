import type { FileRule, SpecRule } from '../rules.js';
import type { MonitorName, PipelineFile, PipelineSpec } from '../types.js';

/**
 * What a task is in the pipeline file: the name users write under `task:`,
 * the sentence editors show for it, the top-level keys only it reads, and
 * its checks — on the file as written (which keys it needs) and on the
 * resolved spec. The plan (plan/tasks) and the engine (engine/tasks) each
 * have their own part of a task, registered under the same name; each
 * registry is typed by the task names, so a task missing from one of them
 * does not compile.
 */
export interface TaskFormat {
  /** What this task predicts, in one sentence (the schema's description lists them). */
  description: string;
  /** Top-level keys that only this task reads: written for another task, they are an error. */
  ownKeys: readonly string[];
  /** Its own keys (ownKeys) as the resolved spec has them, defaults filled in. */
  resolveOwnKeys?: (file: PipelineFile) => Partial<PipelineSpec>;
  /** Checks on the file as written: the keys this task needs, or cannot use. */
  fileRules: readonly FileRule[];
  /** Checks on the resolved spec that hold only for this task, run after the common rules. */
  rules: readonly SpecRule[];
  /** Epoch metrics beyond loss and accuracy that this task's runs measure, and so a stage may watch (segmentation: val_meanIoU). */
  monitors: readonly MonitorName[];
  /** The metrics a sweep of this task can rank trials by (its runs record them), the default first. */
  sweepMetrics: readonly (
    'val_accuracy' | 'val_loss' | 'test_accuracy' | 'test_loss' | 'test_auroc' | 'val_meanIoU' | 'test_meanIoU'
  )[];
}
