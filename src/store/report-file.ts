import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import type { EpochMetrics } from '../engine/events.js';
import { readBackIfPresent } from '../platform/read-back.js';
import { taskOf, type Plan } from '../plan/types.js';
import { writeFileAtomic } from './atomic-write.js';
import { readGallery, type StoredGallery } from './gallery-file.js';
import { readMetricRows } from './metrics-file.js';
import { readPlan } from './plan-file.js';
import { relativePath } from './relative-paths.js';
import { PIPELINE_COPY } from './run-folder.js';
import { readRunRecord, type RunRecord } from './run-record.js';
import { heartbeatAgeMs } from './run-status.js';
import { readSummary, type RunSummary } from './summary-file.js';
import { TASK_STORES } from './tasks/registry.js';
import type { TaskReportFiles } from './tasks/task-store.js';

/** report.html and confusion-matrix.csv: what a person opens, rebuilt from the run's other files alone. */
export const REPORT_FILE = 'report.html';
export const CONFUSION_FILE = 'confusion-matrix.csv';

/** The run's own files a report is made from, read back: a report can be rebuilt at any time from these alone. */
export interface RunReportSources {
  record: RunRecord;
  plan: Plan;
  /** Absent until the run completed. */
  summary: RunSummary | undefined;
  metrics: EpochMetrics[];
  /** `baseline: scratch`'s rows; none without a baseline. */
  baseline: EpochMetrics[];
  gallery: StoredGallery | undefined;
  /** What the run's task shows beyond these (segmentation: the worst test images with their masks). */
  taskFiles: TaskReportFiles;
  /** pipeline.yaml as the run ran it; empty when the copy is gone. */
  pipelineYaml: string;
  /** How long since the run last showed it was alive (its heartbeat), for its status as it really is; undefined: not known. */
  heartbeatAgeMs?: number;
}

/**
 * The renderer of a run's report page. It lives above the store (src/render/),
 * which the store cannot import, so whoever asks for a report hands it in.
 */
export type RunReportRenderer = (sources: RunReportSources) => string;

/** Reads what a run's report shows: plan, run.json, summary, metrics, examples and pipeline.yaml. */
export async function readRunReportSources(dir: string): Promise<RunReportSources> {
  const record = await readRunRecord(dir);
  const plan = await readPlan(dir);
  const summary = withoutMachinePaths(await readSummary(dir), dir);
  const baseline = await readMetricRows(dir, 'baseline');
  const gallery = await readGallery(dir);
  // A run written before paths were kept relative: its files are shown relative to the run folder.
  const shown = <T extends { example: string }>(image: T): T => ({
    ...image,
    example: relativePath(image.example, dir),
  });
  if (gallery)
    Object.assign(gallery, {
      worst: gallery.worst.map(shown),
      perClass: gallery.perClass.map((c) => ({ ...c, examples: c.examples.map(shown) })),
    });
  const metrics = await readMetricRows(dir);
  const pipelineYaml =
    (await readBackIfPresent(dir, PIPELINE_COPY, { what: "the run's copy of its pipeline", kind: 'text' }))?.toString(
      'utf8',
    ) ?? '';
  const taskFiles = (await TASK_STORES[taskOf(plan)].readReportFiles?.(dir)) ?? {};
  const age = await heartbeatAgeMs(dir, record);
  return {
    record,
    plan,
    summary,
    metrics,
    baseline,
    gallery,
    taskFiles,
    pipelineYaml,
    ...(age === undefined ? {} : { heartbeatAgeMs: age }),
  };
}

/** A summary whose test examples are named relative to the run folder when an older run kept them absolute. */
function withoutMachinePaths(summary: RunSummary | undefined, dir: string): RunSummary | undefined {
  if (!summary?.test?.worst) return summary;
  return {
    ...summary,
    test: {
      ...summary.test,
      worst: summary.test.worst.map((w) => ({ ...w, example: relativePath(w.example, dir) })),
    } as RunSummary['test'],
  };
}

/** Writes a run's report.html, rendered from its own files (into the run folder unless `out` says where). */
export async function writeRunReport(
  dir: string,
  render: RunReportRenderer,
  out = path.join(dir, REPORT_FILE),
  ending?: Pick<RunRecord, 'endedAt' | 'seconds'>,
): Promise<string> {
  const sources = await readRunReportSources(dir);
  // A run writes its report just before run.json records its end: the page shows that end, so both say one duration.
  await writeFileAtomic(out, render(ending ? { ...sources, record: { ...sources.record, ...ending } } : sources));
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
  return (
    [
      ['actual \\ predicted', ...classNames].map(csvField).join(','),
      ...matrix.map((row, i) => [csvField(classNames[i] ?? String(i)), ...row].join(',')),
    ].join('\n') + '\n'
  );
}

export async function writeConfusionCsv(dir: string, matrix: number[][], classNames: string[]): Promise<void> {
  await writeFileAtomic(path.join(dir, CONFUSION_FILE), confusionMatrixCsv(matrix, classNames));
}

/** One run's curves on a comparison page: its label and its metrics rows. */
export interface ComparedRunMetrics {
  label: string;
  metrics: EpochMetrics[];
}

/**
 * One page comparing runs, rendered by `render` from their curves. A run
 * whose metrics file is damaged has no curves (the comparison's notes say
 * which file and why).
 */
export async function writeComparisonReport(
  out: string,
  runs: { label: string; dir: string }[],
  render: (runs: ComparedRunMetrics[]) => string,
): Promise<string> {
  const compared: ComparedRunMetrics[] = await Promise.all(
    runs.map(async (r) => ({
      label: r.label,
      metrics: await readMetricRows(r.dir).catch((error: unknown) =>
        error instanceof UserError ? [] : Promise.reject(error),
      ),
    })),
  );
  await writeFileAtomic(out, render(compared));
  return out;
}
