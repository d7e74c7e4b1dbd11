/**
 * tlpipe as a library: what the CLI does, as functions that return data.
 *
 *   import { run, loadModel } from 'tlpipe';
 *   const result = await run('pipeline.yaml', { overrides: { 'train.stages[0].epochs': 3 } });
 *   if (!result.ok) for (const d of result.diagnostics) console.error(formatDiagnostic(d));
 *
 * Every function returns `{ ok, value, diagnostics, warnings }` (errors are
 * data, each placed at its file:line:col where it has one); none prints,
 * exits or installs signal handlers. Long ones take an AbortSignal and an
 * event listener.
 */
export { validate } from './validate.js';
export { plan } from './plan.js';
export { run, resume, type RunOptions, type RunResult, type RunInfo } from './run.js';
export {
  evaluate,
  evaluationRecord,
  type Evaluation,
  type ClassificationEvaluation,
  type SegmentationEvaluation,
  type AnomalyEvaluation,
  type EvaluateOptions,
} from './evaluate.js';
export { predict } from './predict.js';
export {
  serve,
  type ServeOptions,
  type Server,
  type ServeEvent,
  type FollowEvent,
  type ModelDescription,
  type ServedAnswer,
} from './serve.js';
export { explain, type Explanation, type ExplainOptions } from './explain.js';
export {
  loadModel,
  modelFiles,
  type ModelOptions,
  type LoadedModel,
  type Prediction,
  type PredictionFailure,
  type ImageInput,
  type EncodedImage,
  type ImageExplanation,
  type ClassHeatmap,
  type TtaTransform,
} from './load-model.js';
export type { Segmentation } from './segmentation-model.js';
export { listRuns, compare, report, type Comparison, type RunOverview } from './runs.js';
export { describeData, type DatasetReport } from './data.js';
export { audit, type AuditInfo, type AuditOptions } from './audit.js';
export type { AuditResult, LabelIssueFinding, PairFinding, ExampleRef } from '../engine/audit/audit-types.js';
export { listModels, type ZooListing } from './models.js';
export { initProject, type InitResult } from './init.js';
export { watch, type WatchOptions, type WatchEvent } from './watch.js';
export {
  planSweep,
  sweep,
  resumeSweep,
  worker,
  type SweepPlan,
  type PlannedTrial,
  type SweepOptions,
  type SweepInfo,
  type SweepEvent,
  type SweepCounts,
  type WorkerOptions,
  type WorkerEvent,
} from './sweep.js';
export type { SweepRecord, TrialState, TrialStatus } from '../store/sweep-folder.js';
export {
  crossValidate,
  planCrossValidation,
  foldsOf,
  type CrossValidateOptions,
  type KfoldEvent,
  type KfoldInfo,
  type KfoldPlan,
  type PlannedFold,
  type KfoldSummary,
  type FoldsRecord,
} from './cross-validate.js';
export { stratifiedFolds } from '../plan/stratified-folds.js';
export type { SweepSpec } from '../plan/sweep-trials.js';
export { version, schemaPath } from '../package/package-root.js';
export { formatDiagnostic, type Diagnostic, type KeyPath } from '../diagnostics/diagnostic.js';
export { describeSchedule } from './describe.js';
export type { Outcome, PipelineInput, PipelineOptions, Cancellable } from './types.js';
export type { PipelineFile, PipelineSpec, BackendName } from '../format/types.js';
export type { Plan, PlanTask, PlanStage } from '../plan/types.js';
export type { EngineEvent, RunEvent, RunStartEvent, RunEndEvent, EpochMetrics } from '../engine/events.js';
export type { TestMetrics, TtaMetrics } from '../engine/evaluate/metrics.js';
export type { ClassCurves, CurvePoints } from '../engine/evaluate/curves.js';
export type { DecisionRule } from '../engine/evaluate/decision-rule.js';
export type { DecisionMetrics } from '../engine/evaluate/decision-metrics.js';
export type { RunRecord, RunStatus } from '../store/run-record.js';
export type { RunSummary } from '../store/summary-file.js';
export { testHeadline } from '../store/tasks/registry.js';
