import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { TestMetrics } from '../engine/evaluate/metrics.js';
import type { PlanOutcome } from '../engine/run/run-plan.js';
import type { AnomalyTestMetrics } from '../engine/tasks/anomaly/evaluate-anomaly.js';
import type { SegmentationTestMetrics } from '../engine/tasks/segmentation/evaluate-masks.js';
import type { StrategyMeasurement } from '../plan/types.js';
import { writeJsonAtomic } from './atomic-write.js';
import { byTask, readShapedJsonIfPresent } from './read-back-shape.js';
import { relativePath, withRelativePaths } from './relative-paths.js';

export const SUMMARY_FILE = 'summary.json';

/** summary.json: how a completed run went, written before run.json says `completed`. */
export interface RunSummary {
  status: 'completed';
  pipeline: string;
  run: string;
  backend: string;
  classes: string[];
  data: PlanOutcome['data'];
  stages: PlanOutcome['stages'];
  /** As the pipeline's task measures it: classification's metrics, or another task's (they say their task). */
  test?: TestMetrics | AnomalyTestMetrics | SegmentationTestMetrics;
  baseline?: {
    kind: 'scratch';
    stages: NonNullable<PlanOutcome['baseline']>['stages'];
    test?: TestMetrics | SegmentationTestMetrics;
  };
  strategy?: StrategyMeasurement;
  export: PlanOutcome['export'];
  /** Peak resident memory of the whole process and the run's wall time, for sizing machines. */
  resources: { peakRssMiB: number; seconds: number };
}

/**
 * What a one-line account of the test split says, whatever the task:
 * accuracy always (pixel accuracy for segmentation), the loss where there
 * is one, AUROC for anomaly, mean IoU for segmentation.
 */
export function testHeadline(test: NonNullable<RunSummary['test']>): {
  accuracy: number;
  examples: number;
  loss?: number;
  auroc?: number;
  meanIoU?: number;
} {
  return {
    accuracy: 'pixelAccuracy' in test ? test.pixelAccuracy : test.accuracy,
    ...('meanIoU' in test ? { meanIoU: test.meanIoU } : {}),
    examples: test.examples,
    ...(test.loss !== undefined ? { loss: test.loss } : {}),
    ...('auroc' in test && test.auroc !== null ? { auroc: test.auroc } : {}),
  };
}

/**
 * Writes summary.json, every file it names (skipped files, the test's worst
 * examples) relative to `pipelineDir`, the folder of the pipeline file,
 * whose paths the pipeline's own are relative to (default: the run folder).
 */
export function writeSummary(dir: string, summary: RunSummary, pipelineDir = dir): Promise<void> {
  const test = <T extends { worst: { example: string }[] }>(metrics: T | undefined): T | undefined =>
    metrics && {
      ...metrics,
      worst: metrics.worst.map((w) => ({ ...w, example: relativePath(w.example, pipelineDir) })),
    };
  const relative: RunSummary = {
    ...summary,
    data: {
      ...summary.data,
      skipped: summary.data.skipped.map((s) => ({
        file: relativePath(s.file, pipelineDir),
        reason: withRelativePaths(s.reason, pipelineDir),
      })),
    },
    ...(summary.test ? { test: test(summary.test)! } : {}),
    ...(summary.baseline
      ? { baseline: { ...summary.baseline, ...(summary.baseline.test ? { test: test(summary.baseline.test)! } : {}) } }
      : {}),
  };
  return writeJsonAtomic(path.join(dir, SUMMARY_FILE), relative);
}

const Count = Type.Integer({ minimum: 0 });
const Metric = Type.Union([Type.Number(), Type.Null()]);
const TestMetricsSchema = Type.Object({
  loss: Metric,
  accuracy: Metric,
  examples: Count,
  topK: Type.Optional(Type.Record(Type.String(), Metric)),
  perClass: Type.Record(Type.String(), Type.Object({ precision: Metric, recall: Metric, f1: Metric, support: Count })),
  confusionMatrix: Type.Array(Type.Array(Count)),
  worst: Type.Optional(
    Type.Array(
      Type.Object({
        example: Type.String(),
        actual: Type.String(),
        predicted: Type.String(),
        probabilityOfActual: Metric,
        probabilityOfPredicted: Metric,
      }),
    ),
  ),
});
const AnomalyTestMetricsSchema = Type.Object({
  task: Type.Literal('anomaly'),
  examples: Count,
  normalExamples: Count,
  anomalousExamples: Count,
  auroc: Metric,
  averagePrecision: Metric,
  f1: Metric,
  accuracy: Metric,
  atThreshold: Type.Object({ threshold: Type.Number(), precision: Metric, recall: Metric, f1: Metric }),
  perClass: Type.Record(
    Type.String(),
    Type.Object({ normal: Type.Boolean(), examples: Count, meanScore: Metric, flagged: Count }),
  ),
  histograms: Type.Object({
    edges: Type.Array(Type.Number(), { maxItems: 1001 }),
    counts: Type.Record(Type.String(), Type.Array(Count, { maxItems: 1000 })),
  }),
  worst: Type.Array(
    Type.Object({ example: Type.String(), actual: Type.String(), anomalous: Type.Boolean(), score: Type.Number() }),
  ),
});
const SegmentationTestMetricsSchema = Type.Object({
  task: Type.Literal('segmentation'),
  loss: Metric,
  pixelAccuracy: Metric,
  accuracy: Metric,
  meanIoU: Metric,
  perClass: Type.Record(Type.String(), Type.Object({ iou: Metric, pixels: Count })),
  examples: Count,
  worst: Type.Array(Type.Object({ example: Type.String(), meanIoU: Metric })),
});
const StageOutcomeSchema = Type.Object({
  name: Type.Optional(Type.String()),
  epochsRun: Count,
  stoppedEarly: Type.Boolean(),
  restoredEpoch: Type.Optional(Type.Integer({ minimum: 0 })),
});
/** What the readers of summary.json use (report, compare, runs, a sweep's trial). */
const SummarySchema = Type.Object({
  status: Type.Literal('completed'),
  pipeline: Type.String(),
  run: Type.String(),
  backend: Type.String(),
  classes: Type.Array(Type.String()),
  data: Type.Object({ counts: Type.Object({ train: Count, validation: Count, test: Count }) }),
  stages: Type.Array(StageOutcomeSchema),
  test: Type.Optional(
    byTask({ anomaly: AnomalyTestMetricsSchema, segmentation: SegmentationTestMetricsSchema }, TestMetricsSchema),
  ),
  baseline: Type.Optional(
    Type.Object({
      stages: Type.Array(StageOutcomeSchema),
      test: Type.Optional(Type.Union([SegmentationTestMetricsSchema, TestMetricsSchema])),
    }),
  ),
  resources: Type.Object({ peakRssMiB: Type.Number({ minimum: 0 }), seconds: Type.Number({ minimum: 0 }) }),
});

/**
 * A run's summary.json, or undefined when it has none (it has not
 * completed). Read back bounded and confined (a FIFO or a device is
 * refused at once); valid JSON of another shape (`[]`, `null`, a number
 * where the test accuracy goes) is a user error naming the file.
 */
export async function readSummary(dir: string): Promise<RunSummary | undefined> {
  const hint = 'summary.json was damaged or edited by hand; run the pipeline again (or restore the file from git)';
  return (await readShapedJsonIfPresent(dir, SUMMARY_FILE, {
    what: 'run summary',
    kind: 'json',
    hint,
    schema: SummarySchema,
    expected: "a run's summary (an object with status, stages, data and resources)",
  })) as RunSummary | undefined;
}
