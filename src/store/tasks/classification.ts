import { Type } from '@sinclair/typebox';
import { Count, Metric, stagedPlanFields } from './shared-schemas.js';
import { readAudit } from '../audit-file.js';
import type { TaskStore } from './task-store.js';

const CalibrationSchema = Type.Object({
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
});
const BinaryMetricsSchema = Type.Object({
  accuracy: Metric,
  precision: Metric,
  recall: Metric,
  f1: Metric,
  balancedAccuracy: Metric,
});
/** summary.json `test.decision` (engine/evaluate/decision-metrics.ts): bounded, each part optional as the pipeline asked. */
const DecisionSchema = Type.Object({
  validationExamples: Type.Optional(Count),
  calibration: Type.Optional(
    Type.Object({
      temperature: Type.Number({ exclusiveMinimum: 0, maximum: 1000 }),
      validationNll: Type.Optional(Type.Object({ before: Metric, after: Metric })),
      before: Type.Intersect([CalibrationSchema, Type.Object({ nll: Metric })]),
      after: Type.Intersect([CalibrationSchema, Type.Object({ nll: Metric })]),
    }),
  ),
  threshold: Type.Optional(
    Type.Object({
      positive: Type.String({ maxLength: 1000 }),
      value: Type.Number({ minimum: 0, maximum: 1 }),
      metric: Type.String({ maxLength: 100 }),
      recall: Type.Optional(Type.Number()),
      fallback: Type.Optional(Type.String({ maxLength: 10_000 })),
      validation: Type.Optional(BinaryMetricsSchema),
      tuned: BinaryMetricsSchema,
      argmax: BinaryMetricsSchema,
    }),
  ),
  abstain: Type.Optional(
    Type.Object({
      confidence: Type.Number({ minimum: 0, maximum: 1 }),
      coverage: Metric,
      answered: Count,
      accuracyAnswered: Metric,
      accuracyAll: Metric,
    }),
  ),
});

/** Classification's files: its test metrics carry no `task` (they were written before tasks existed). */
/** Class name → its metrics: bounded like the class list (labels.json allows no more). */
export const MAX_CLASSES = 10_000;

const PerClass = Type.Record(
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
  { maxProperties: MAX_CLASSES },
);

/** A curve's vertices; tlpipe writes at most 100 (engine/evaluate/curves.ts), a bound well above that is checked. */
const CurveSchema = Type.Object({
  x: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { maxItems: 1000 }),
  y: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { maxItems: 1000 }),
});

/** The metrics every evaluation of the test split has, with or without test-time augmentation. */
const splitMetrics = {
  loss: Metric,
  accuracy: Metric,
  examples: Count,
  topK: Type.Optional(Type.Record(Type.String(), Metric, { maxProperties: 5 })),
  perClass: PerClass,
  calibration: Type.Optional(CalibrationSchema),
  confusionMatrix: Type.Array(Type.Array(Count, { maxItems: MAX_CLASSES }), { maxItems: MAX_CLASSES }),
};

export const classificationStore: TaskStore<'classification'> = {
  testMetrics: Type.Object({
    ...splitMetrics,
    // Runs written before the curves (and runs of more than 50 classes) have none.
    curves: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.Object({ roc: CurveSchema, pr: CurveSchema }), Type.Null()]), {
        maxProperties: 1000,
      }),
    ),
    // `evaluate.tta`: the same split with test-time augmentation.
    tta: Type.Optional(
      Type.Object({
        ...splitMetrics,
        transforms: Type.Array(Type.String(), { maxItems: 16 }),
        views: Type.Array(Type.String(), { maxItems: 256 }),
      }),
    ),
    // `evaluate: calibrate / threshold / abstain`: runs without them (and before them) have none.
    decision: Type.Optional(DecisionSchema),
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
