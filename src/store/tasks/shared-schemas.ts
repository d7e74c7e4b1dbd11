import { Type } from '@sinclair/typebox';

/** Pieces of the read-back schemas that several tasks' files share. */
export const Count = Type.Integer({ minimum: 0 });
/** A metric is null where it is undefined (no examples of a class, a single-class test split). */
export const Metric = Type.Union([Type.Number(), Type.Null()]);

/** One training stage of plan.json, as the report and evaluate read it. */
export const PlanStageSchema = Type.Object({
  name: Type.String(),
  index: Count,
  epochs: Count,
  firstEpoch: Count,
  lastEpoch: Count,
  batchSize: Type.Integer({ minimum: 1 }),
  optimizer: Type.Object({ name: Type.String() }),
  parameterGroups: Type.Array(Type.Object({ name: Type.String(), learningRate: Type.Number() })),
  schedule: Type.Object({ type: Type.String() }),
  trainable: Type.String(),
  weights: Type.String(),
  trainableBaseLayers: Type.Array(Type.String()),
  labelSmoothing: Type.Number(),
  classWeights: Type.Union([Type.Array(Type.Number()), Type.Null()]),
  trainableParams: Count,
  totalParams: Count,
  earlyStopping: Type.Optional(Type.Object({ monitor: Type.String(), patience: Count, restoreBest: Type.Boolean() })),
  alignment: Type.Optional(
    Type.Object({
      method: Type.Union([Type.Literal('coral'), Type.Literal('dann')]),
      weight: Type.Number(),
      targetDigest: Type.String({ maxLength: 128 }),
      targetCount: Count,
    }),
  ),
});

/** A task that trains stages has at least one in its plan. */
export const stagedPlanFields = { stages: Type.Array(PlanStageSchema, { minItems: 1 }) };
