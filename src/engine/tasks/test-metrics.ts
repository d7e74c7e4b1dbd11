import type { TaskName } from '../../format/types.js';
import type { TestMetrics } from '../evaluate/metrics.js';
import type { AnomalyTestMetrics } from './anomaly/evaluate-anomaly.js';
import type { SegmentationTestMetrics } from './segmentation/evaluate-masks.js';

/** A map with exactly one entry per task: a task left out (or misspelt) does not compile. */
type OnePerTask<M extends { [T in TaskName]: unknown } & { [K in Exclude<keyof M, TaskName>]: never }> = M;

/**
 * What each task measures on its test split (summary.json `test`). The
 * other tasks' metrics say their task (`task: 'anomaly'`); classification's,
 * written before tasks existed, do not.
 */
export type TestMetricsByTask = OnePerTask<{
  classification: TestMetrics;
  segmentation: SegmentationTestMetrics;
  anomaly: AnomalyTestMetrics;
}>;

/** Any task's test metrics. */
export type TaskTestMetrics = TestMetricsByTask[TaskName];

/** The test metrics of a task that trains stages, and so may have a scratch baseline beside it. */
export type StagedTestMetrics = TestMetricsByTask['classification' | 'segmentation'];
