import { Type } from '@sinclair/typebox';
import { Count, Metric, stagedPlanFields } from './shared-schemas.js';
import type { TaskStore } from './task-store.js';

/** Classification's files: its test metrics carry no `task` (they were written before tasks existed). */
/** Class name → its metrics: bounded like the class list (labels.json allows no more). */
const MAX_CLASSES = 10_000;

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
};
