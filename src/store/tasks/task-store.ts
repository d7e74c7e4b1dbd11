import type { TProperties, TSchema } from '@sinclair/typebox';
import type { TaskName } from '../../format/types.js';
import type { TestMetricsByTask } from '../../engine/tasks/test-metrics.js';
import type { StoredAudit } from '../audit-file.js';
import type { StoredMaskOverlay } from '../mask-gallery-file.js';

/**
 * What a run of every task reports of its test split in one line (`tlpipe
 * run`'s last line, runs, compare, a sweep's trial): accuracy always (pixel
 * accuracy for segmentation, at the threshold for anomaly), and the
 * numbers the task has beyond it.
 */
export interface TestHeadline {
  accuracy: number;
  examples: number;
  loss?: number;
  auroc?: number;
  meanIoU?: number;
}

/** What a task's report shows beyond every run's files, read from its run folder (masks.json for segmentation). */
export interface TaskReportFiles {
  masks?: StoredMaskOverlay[];
  /** Classification with `evaluate: { audit: true }`: audit.json. */
  audit?: StoredAudit;
}

/**
 * A task's part of the run folder: the shapes its files are read back
 * with (summary.json's `test`, plan.json, resolved.json) and what its
 * report reads beyond every run's files. Each task is one module in this
 * folder and one line in registry.ts.
 */
export interface TaskStore<T extends TaskName> {
  /** summary.json `test` (and a scratch baseline's) as this task writes it. */
  testMetrics: TSchema;
  /** plan.json's fields beyond those every plan has: its stages, and what else the task plans. */
  planFields: TProperties;
  /** The fewest training stages the task's resolved.json has (a task that trains nothing has none). */
  minStages: number;
  /** The one-line account of the test split. */
  headline(test: TestMetricsByTask[T]): TestHeadline;
  /** The files its report shows beyond every run's. */
  readReportFiles?(dir: string): Promise<TaskReportFiles>;
}
