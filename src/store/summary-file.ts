import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { PlanOutcome } from '../engine/run/run-plan.js';
import type { StagedTestMetrics, TaskTestMetrics } from '../engine/tasks/test-metrics.js';
import type { StrategyMeasurement } from '../plan/types.js';
import { writeJsonAtomic } from './atomic-write.js';
import { readShapedJsonIfPresent } from './read-back-shape.js';
import { Count } from './tasks/shared-schemas.js';
import { MAX_CLASSES } from './tasks/classification.js';
import { TestMetricsSchema } from './tasks/registry.js';
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
  /** `dataset.source`: its examples in the training split, the classes left out, its weight and decay. */
  source?: NonNullable<PlanOutcome['source']>;
  stages: PlanOutcome['stages'];
  /** `adapt.method: adabn`: the base's batch-norm statistics re-estimated on the target images. */
  adapt?: { method: 'adabn'; images: number; batchNormLayers: number; seconds: number };
  /** As the pipeline's task measures it: classification's metrics, or another task's (they say their task). */
  test?: TaskTestMetrics;
  baseline?: {
    kind: 'scratch';
    stages: NonNullable<PlanOutcome['baseline']>['stages'];
    test?: StagedTestMetrics;
  };
  strategy?: StrategyMeasurement;
  /** `adapt:`: a domain classifier's AUROC on the base's pooled features, training vs target images, before and after adaptation. */
  domainShift?: NonNullable<PlanOutcome['domainShift']>;
  export: PlanOutcome['export'];
  /** Peak resident memory of the whole process and the run's wall time, for sizing machines. */
  resources: { peakRssMiB: number; seconds: number };
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

const StageOutcomeSchema = Type.Object({
  name: Type.Optional(Type.String()),
  epochsRun: Count,
  stoppedEarly: Type.Boolean(),
  restoredEpoch: Type.Optional(Type.Integer({ minimum: 0 })),
});
/** What the readers of summary.json use (report, compare, runs, a sweep's trial). */
export const SummarySchema = Type.Object({
  status: Type.Literal('completed'),
  pipeline: Type.String(),
  run: Type.String(),
  backend: Type.String(),
  classes: Type.Array(Type.String()),
  data: Type.Object({ counts: Type.Object({ train: Count, validation: Count, test: Count }) }),
  source: Type.Optional(
    Type.Object({
      examples: Count,
      perClass: Type.Record(Type.String({ maxLength: 1000 }), Count, { maxProperties: MAX_CLASSES }),
      mapped: Type.Array(
        Type.Object({ from: Type.String({ maxLength: 1000 }), to: Type.String({ maxLength: 1000 }) }),
        {
          maxItems: MAX_CLASSES,
        },
      ),
      dropped: Type.Array(Type.String({ maxLength: 1000 }), { maxItems: MAX_CLASSES }),
      weight: Type.Number({ minimum: 0 }),
      decay: Type.Number({ minimum: 0 }),
    }),
  ),
  stages: Type.Array(StageOutcomeSchema),
  adapt: Type.Optional(
    Type.Object({
      method: Type.Literal('adabn'),
      images: Count,
      batchNormLayers: Count,
      seconds: Type.Number({ minimum: 0, maximum: 1e7 }),
    }),
  ),
  test: Type.Optional(TestMetricsSchema),
  baseline: Type.Optional(
    Type.Object({ stages: Type.Array(StageOutcomeSchema), test: Type.Optional(TestMetricsSchema) }),
  ),
  domainShift: Type.Optional(
    Type.Object({
      before: Type.Object({ auroc: Type.Number({ minimum: 0, maximum: 1 }) }),
      after: Type.Object({ auroc: Type.Number({ minimum: 0, maximum: 1 }) }),
      train: Count,
      target: Count,
      features: Type.String({ maxLength: 300 }),
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
