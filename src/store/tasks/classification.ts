import { Type } from '@sinclair/typebox';
import { Count, Metric, stagedPlanFields } from './shared-schemas.js';
import { readAudit } from '../audit-file.js';
import type { TaskStore } from './task-store.js';

/** Classification's files: its test metrics carry no `task` (they were written before tasks existed). */
export const classificationStore: TaskStore<'classification'> = {
  testMetrics: Type.Object({
    loss: Metric,
    accuracy: Metric,
    examples: Count,
    topK: Type.Optional(Type.Record(Type.String(), Metric)),
    perClass: Type.Record(
      Type.String(),
      Type.Object({
        precision: Metric,
        recall: Metric,
        f1: Metric,
        support: Count,
        // Runs written before the rankings and the calibration have none.
        auroc: Type.Optional(Metric),
        averagePrecision: Type.Optional(Metric),
      }),
    ),
    calibration: Type.Optional(
      Type.Object({
        ece: Metric,
        bins: Type.Array(
          Type.Object({
            lower: Type.Number(),
            upper: Type.Number(),
            count: Count,
            confidence: Metric,
            accuracy: Metric,
          }),
          { maxItems: 1000 },
        ),
      }),
    ),
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
  }),
  planFields: stagedPlanFields,
  minStages: 1,
  headline: (test) => ({ accuracy: test.accuracy, examples: test.examples, loss: test.loss }),
  readReportFiles: async (dir) => {
    const audit = await readAudit(dir);
    return audit ? { audit } : {};
  },
};
