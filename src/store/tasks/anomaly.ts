import { Type } from '@sinclair/typebox';
import { Count, Metric, PlanStageSchema } from './shared-schemas.js';
import type { TaskStore } from './task-store.js';

/** Anomaly's files: no stages (the bank is filled in one pass), the bank in plan.json, scores and histograms in summary.json. */
export const anomalyStore: TaskStore<'anomaly'> = {
  testMetrics: Type.Object({
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
  }),
  planFields: {
    stages: Type.Array(PlanStageSchema, { maxItems: 0 }),
    anomaly: Type.Object({
      normal: Type.Array(Type.String(), { minItems: 1 }),
      normalClasses: Type.Array(Count, { minItems: 1 }),
      layers: Type.Array(Type.String(), { minItems: 1 }),
      grid: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 2, maxItems: 2 }),
      channels: Type.Integer({ minimum: 1 }),
      coreset: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
      quantile: Type.Number({ minimum: 0, maximum: 1 }),
      bank: Type.Object({ patches: Count, bytes: Count, fromPatches: Count }),
    }),
  },
  minStages: 0,
  // Anomaly has no loss; AUROC is its measure.
  headline: (test) => ({
    accuracy: test.accuracy,
    examples: test.examples,
    ...(test.auroc !== null ? { auroc: test.auroc } : {}),
  }),
};
