import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { readBackIfPresent } from '../platform/read-back.js';
import { writeFileAtomic } from './atomic-write.js';
import { relativePath } from './relative-paths.js';
import { readMetricRows } from './metrics-file.js';
import { readPlan } from './plan-file.js';
import type { Plan, PlanStage } from '../plan/types.js';
import { describeSchedule } from '../plan/learning-rate-schedule.js';
import { readGallery } from './gallery-file.js';
import { renderComparisonReport, renderReport, type ComparedRun, type StageView } from './report-html.js';
import type { RunSummary } from './summary-file.js';
import { PIPELINE_COPY } from './run-folder.js';
import { readRunRecord } from './run-record.js';
import { effectiveStatus } from './run-status.js';
import { readSummary } from './summary-file.js';

/** report.html and confusion-matrix.csv: what a person opens, rebuilt from the run's other files alone. */
export const REPORT_FILE = 'report.html';
export const CONFUSION_FILE = 'confusion-matrix.csv';

/** A run's report page, from its own files (plan, summary, metrics, pipeline.yaml), so it can be rebuilt at any time. */
export async function runReportHtml(dir: string): Promise<string> {
  const record = await readRunRecord(dir);
  const plan = await readPlan(dir);
  const summary = withoutMachinePaths(await readSummary(dir), dir);
  const baseline = await readMetricRows(dir, 'baseline');
  const gallery = await readGallery(dir);
  // A run written before paths were kept relative: its files are shown relative to the run folder.
  const shown = <T extends { example: string }>(image: T): T => ({ ...image, example: relativePath(image.example, dir) });
  if (gallery) Object.assign(gallery, { worst: gallery.worst.map(shown), perClass: gallery.perClass.map((c) => ({ ...c, examples: c.examples.map(shown) })) });
  const minutes = (seconds: number): string => (seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(Math.round(seconds) / 60)} min ${Math.round(seconds) % 60} s`);
  return renderReport({
    title: `${plan.pipeline} — run ${record.id}`,
    run: {
      run: record.id, status: summary?.status ?? effectiveStatus(record, undefined), started: record.startedAt,
      ...(summary ? { duration: minutes(summary.resources.seconds), 'peak memory': `${summary.resources.peakRssMiB} MiB (resident, whole process)` } : {}),
      ...(summary ? { examples: `${summary.data.counts.train} train, ${summary.data.counts.validation} validation, ${summary.data.counts.test} test` } : {}),
      backend: record.backend, base: `${plan.base.model} @ ${plan.base.cut}`, input: plan.data.format === 'csv' ? 'tabular rows' : `${plan.data.image.size.join('×')} images, ${plan.data.image.channels} channel(s)`,
      features: plan.features.mode, plan: plan.fingerprint, seed: plan.seed,
      git: record.git ? `${record.git.commit.slice(0, 12)}${record.git.branch ? ` (${record.git.branch})` : ''}${record.git.dirty ? ', uncommitted changes' : ''}` : 'not in git',
      versions: record.versions,
      ...(record.overrides ? { overrides: record.overrides } : {}),
      ...(record.strategy ? { strategy: record.strategy.decision ?? record.strategy.chosen } : {}),
    },
    metrics: await readMetricRows(dir),
    stages: stageViews(plan, summary),
    monitor: { metric: plan.checkpoints.monitor, mode: plan.checkpoints.mode },
    ...(baseline.length > 0 ? { baseline: { metrics: baseline, ...(summary?.baseline?.test ? { test: summary.baseline.test } : {}) } } : {}),
    ...(summary?.test ? { test: summary.test } : {}),
    ...(gallery ? { gallery } : {}),
    classNames: plan.classes.names,
    pipelineYaml: (await readBackIfPresent(dir, PIPELINE_COPY, { what: 'the run\'s copy of its pipeline', kind: 'text' }))?.toString('utf8') ?? '',
  });
}

/** A summary whose test examples are named relative to the run folder when an older run kept them absolute. */
function withoutMachinePaths(summary: RunSummary | undefined, dir: string): RunSummary | undefined {
  if (!summary?.test?.worst) return summary;
  return { ...summary, test: { ...summary.test, worst: summary.test.worst.map((w) => ({ ...w, example: relativePath(w.example, dir) })) } };
}

/** Each stage's hyperparameters as the plan resolved them, with how it went once summary.json says. */
function stageViews(plan: Plan, summary: RunSummary | undefined): StageView[] {
  const learns = (s: PlanStage): string => (s.trainable === 'head' ? 'the head' : `the head and ${s.trainableBaseLayers.length} base layer(s) (${s.trainableBaseLayers[0]} … ${s.trainableBaseLayers.at(-1)})`);
  return plan.stages.map((s) => {
    const outcome = summary?.stages[s.index];
    const stopping = s.earlyStopping;
    return {
      name: s.name, firstEpoch: s.firstEpoch, lastEpoch: s.lastEpoch, batchSize: s.batchSize, optimizer: s.optimizer.name,
      groups: s.parameterGroups.map((g) => ({ name: g.name, learningRate: g.learningRate })),
      schedule: describeSchedule(s.schedule), learns: learns(s), batchNorm: s.trainable === 'head' ? '–' : s.batchNorm,
      ...(stopping ? { earlyStopping: `${stopping.monitor}, patience ${stopping.patience}${stopping.restoreBest ? ', restores best' : ''}` } : {}),
      labelSmoothing: s.labelSmoothing, classWeights: s.classWeights !== null, trainableParams: s.trainableParams, totalParams: s.totalParams,
      ...(outcome ? { epochsRun: outcome.epochsRun, stoppedEarly: outcome.stoppedEarly, ...(outcome.restoredEpoch !== undefined ? { restoredEpoch: outcome.restoredEpoch } : {}) } : {}),
    };
  });
}

/** Writes a run's report.html (into the run folder unless `out` says where). */
export async function writeRunReport(dir: string, out = path.join(dir, REPORT_FILE)): Promise<string> {
  await writeFileAtomic(out, await runReportHtml(dir));
  return out;
}

/**
 * One CSV field, safe to open in a spreadsheet: a value that starts with
 * `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a formula
 * (OWASP's CSV injection), so it gets a leading `'`; a value with a comma,
 * a quote or a line break is quoted.
 */
export function csvField(text: string): string {
  const neutral = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(neutral) || neutral !== text ? `"${neutral.replace(/"/g, '""')}"` : neutral;
}

/** The confusion matrix as CSV: a header of predicted classes, one row per actual class. */
export function confusionMatrixCsv(matrix: number[][], classNames: string[]): string {
  return [['actual \\ predicted', ...classNames].map(csvField).join(','), ...matrix.map((row, i) => [csvField(classNames[i] ?? String(i)), ...row].join(','))].join('\n') + '\n';
}

export async function writeConfusionCsv(dir: string, matrix: number[][], classNames: string[]): Promise<void> {
  await writeFileAtomic(path.join(dir, CONFUSION_FILE), confusionMatrixCsv(matrix, classNames));
}

/**
 * One page comparing runs: their curves on shared charts and a table of
 * what differs. A run whose metrics file is damaged has no curves (the
 * comparison's notes say which file and why).
 */
export async function writeComparisonReport(out: string, title: string, runs: { label: string; dir: string }[], tables: Parameters<typeof renderComparisonReport>[2]): Promise<string> {
  const compared: ComparedRun[] = await Promise.all(runs.map(async (r) => ({
    label: r.label,
    metrics: await readMetricRows(r.dir).catch((error: unknown) => (error instanceof UserError ? [] : Promise.reject(error))),
  })));
  await writeFileAtomic(out, renderComparisonReport(title, compared, tables));
  return out;
}
