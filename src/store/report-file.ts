import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { readMetricRows } from './metrics-file.js';
import { readPlan } from './plan-file.js';
import { renderComparisonReport, renderReport, type ComparedRun } from './report-html.js';
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
  const summary = await readSummary(dir);
  const baseline = await readMetricRows(dir, 'baseline');
  return renderReport({
    title: `${plan.pipeline} — run ${record.id}`,
    run: {
      run: record.id, status: summary?.status ?? effectiveStatus(record, undefined), started: record.startedAt, backend: record.backend, base: `${plan.base.model} @ ${plan.base.cut}`,
      plan: plan.fingerprint, seed: plan.seed, git: record.git ? `${record.git.commit.slice(0, 12)}${record.git.branch ? ` (${record.git.branch})` : ''}${record.git.dirty ? ', uncommitted changes' : ''}` : 'not in git',
      versions: record.versions,
      ...(record.overrides ? { overrides: record.overrides } : {}),
      ...(record.strategy ? { strategy: record.strategy.decision ?? record.strategy.chosen } : {}),
    },
    metrics: await readMetricRows(dir),
    ...(baseline.length > 0 ? { baseline: { metrics: baseline, ...(summary?.baseline?.test ? { test: summary.baseline.test } : {}) } } : {}),
    ...(summary?.test ? { test: summary.test } : {}),
    classNames: plan.classes.names,
    pipelineYaml: await readFile(path.join(dir, PIPELINE_COPY), 'utf8').catch(() => ''),
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

/** One page comparing runs: their curves on shared charts and a table of what differs. */
export async function writeComparisonReport(out: string, title: string, runs: { label: string; dir: string }[], table: { header: string[]; rows: string[][] }): Promise<string> {
  const compared: ComparedRun[] = await Promise.all(runs.map(async (r) => ({ label: r.label, metrics: await readMetricRows(r.dir) })));
  await writeFileAtomic(out, renderComparisonReport(title, compared, table));
  return out;
}
