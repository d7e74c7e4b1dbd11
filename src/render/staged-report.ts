import { stageBatchNorm } from '../plan/batch-norm.js';
import { describeSchedule } from '../plan/learning-rate-schedule.js';
import { describeAlignment } from '../plan/compile-steps/stage-alignment.js';
import type { Plan, PlanStage } from '../plan/types.js';
import type { RunReportSources } from '../store/report-file.js';
import { recordedSeconds } from '../store/run-record.js';
import { effectiveStatus } from '../store/run-status.js';
import type { RunSummary } from '../store/summary-file.js';
import { auditSection } from './audit-report.js';
import { domainShiftSection } from './domain-shift-section.js';
import { renderReport, type ReportInput, type StageView } from './report-html.js';

/**
 * The report of a run that trains stages (classification, segmentation):
 * its curves, its stages, its test split — classification's sections, or
 * the task's own (`taskSection`) in their place.
 */
export function renderStagedReport(sources: RunReportSources, taskSection?: ReportInput['taskSection']): string {
  const { record, plan, summary, baseline, gallery } = sources;
  const extraSections = [
    summary?.domainShift ? domainShiftSection(summary.domainShift) : '',
    sources.taskFiles.audit ? auditSection(sources.taskFiles.audit) : '',
  ].join('');
  return renderReport({
    title: `${plan.pipeline} — run ${record.id}`,
    run: runFacts(sources),
    metrics: sources.metrics,
    stages: stageViews(plan, summary),
    monitor: { metric: plan.checkpoints.monitor, mode: plan.checkpoints.mode },
    ...(baseline.length > 0
      ? { baseline: { metrics: baseline, ...(summary?.baseline?.test ? { test: summary.baseline.test } : {}) } }
      : {}),
    ...(summary?.test && 'confusionMatrix' in summary.test ? { test: summary.test } : {}),
    ...(taskSection ? { taskSection } : {}),
    ...(gallery ? { gallery } : {}),
    ...(extraSections ? { extraSections } : {}),
    ...(summary?.source ? { source: summary.source } : {}),
    classNames: plan.classes.names,
    pipelineYaml: sources.pipelineYaml,
  });
}

const minutes = (seconds: number): string =>
  seconds < 60
    ? `${seconds.toFixed(1)} s`
    : `${Math.floor(Math.round(seconds) / 60)} min ${Math.round(seconds) % 60} s`;

/** The run's facts, in the order the report's table lists them. */
export function runFacts({ record, plan, summary, heartbeatAgeMs }: RunReportSources): Record<string, unknown> {
  return {
    run: record.id,
    status: summary?.status ?? effectiveStatus(record, heartbeatAgeMs),
    started: record.startedAt,
    // run.json's duration, as `tlpipe run`, `runs` and `compare` say it (summary.json's is this process's time alone).
    ...(recordedSeconds(record) !== undefined ? { duration: minutes(recordedSeconds(record)!) } : {}),
    ...(summary ? { 'peak memory': `${summary.resources.peakRssMiB} MiB (resident, whole process)` } : {}),
    ...(summary
      ? {
          examples: `${summary.data.counts.train} train, ${summary.data.counts.validation} validation, ${summary.data.counts.test} test`,
        }
      : {}),
    backend: record.backend,
    base: `${plan.base.model} @ ${plan.base.cut}`,
    ...(summary?.adapt
      ? {
          adaptation: `AdaBN: ${summary.adapt.batchNormLayers} batch-norm layers' statistics re-estimated on the training images for training and on ${summary.adapt.images} target images for the evaluation and the export (${minutes(summary.adapt.seconds)}); no other weight changed`,
        }
      : {}),
    input: plan.data.columns
      ? `tabular rows, ${plan.data.columns.length} feature columns (${plan.data.columns.join(', ')})`
      : `${plan.data.image.size.join('×')} images, ${plan.data.image.channels} channel(s)`,
    features: plan.features.mode,
    plan: plan.fingerprint,
    seed: plan.seed,
    git: record.git
      ? `${record.git.commit.slice(0, 12)}${record.git.branch ? ` (${record.git.branch})` : ''}${record.git.dirty ? ', uncommitted changes' : ''}`
      : 'not in git',
    versions: record.versions,
    ...(record.overrides ? { overrides: record.overrides } : {}),
    ...(record.strategy ? { strategy: record.strategy.decision ?? record.strategy.chosen } : {}),
  };
}

/** Each stage's hyperparameters as the plan resolved them, with how it went once summary.json says. */
function stageViews(plan: Plan, summary: RunSummary | undefined): StageView[] {
  const learns = (s: PlanStage): string =>
    s.trainable === 'head'
      ? 'the head'
      : `the head and ${s.trainableBaseLayers.length} base layer(s) (${s.trainableBaseLayers[0]} … ${s.trainableBaseLayers.at(-1)})`;
  return plan.stages.map((s) => {
    const outcome = summary?.stages[s.index];
    const stopping = s.earlyStopping;
    return {
      name: s.name,
      firstEpoch: s.firstEpoch,
      lastEpoch: s.lastEpoch,
      batchSize: s.batchSize,
      optimizer: s.optimizer.name,
      groups: s.parameterGroups.map((g) => ({ name: g.name, learningRate: g.learningRate })),
      schedule: describeSchedule(s.schedule),
      learns: learns(s),
      batchNorm: stageBatchNorm(plan, s),
      ...(stopping
        ? {
            earlyStopping: `${stopping.monitor}, patience ${stopping.patience}${stopping.restoreBest ? ', restores best' : ''}`,
          }
        : {}),
      ...(s.alignment ? { alignment: describeAlignment(s.alignment) } : {}),
      labelSmoothing: s.labelSmoothing,
      classWeights: s.classWeights !== null,
      trainableParams: s.trainableParams,
      totalParams: s.totalParams,
      ...(outcome
        ? {
            epochsRun: outcome.epochsRun,
            stoppedEarly: outcome.stoppedEarly,
            ...(outcome.restoredEpoch !== undefined ? { restoredEpoch: outcome.restoredEpoch } : {}),
          }
        : {}),
    };
  });
}
