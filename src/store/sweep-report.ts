import path from 'node:path';
import { compareTrials, rankingRule } from '../plan/sweep-trials.js';
import { readMetricRows } from './metrics-file.js';
import { csvField } from './report-file.js';
import { renderComparisonReport, type ComparedRun } from './report-html.js';
import type { SweepFolder, TrialState } from './sweep-folder.js';

export const RESULTS_FILE = 'results.csv';
export const SWEEP_REPORT_FILE = 'report.html';

/**
 * results.csv and report.html of a sweep, from its record and its trials'
 * states and runs. results.csv holds only what the trials' plans decide
 * (values, status, metrics), not which process ran them or when, so the
 * same sweep gives the same file with -j 1, -j 3 or on a queue. `rank` is
 * the order of the completed trials by the sweep's metric, then val_loss,
 * then the trial index (compareTrials): rank 1 is the best, ties included.
 */
export async function writeSweepReport(folder: SweepFolder, states: ReadonlyMap<number, TrialState>): Promise<{ results: string; report: string }> {
  const { record } = folder;
  const names = record.spec.parameters.map((p) => p.name);
  const metric = record.spec.metric.name;
  const value = (v: unknown): string => (typeof v === 'number' ? String(v) : csvField(typeof v === 'string' ? v : JSON.stringify(v)));
  const number = (v: number | undefined): string => (v === undefined ? '' : String(v));
  const withValLoss = metric !== 'val_loss';
  const ranked = [...states.values()]
    .filter((s) => s.status === 'completed' && s.metric !== undefined && Number.isFinite(s.metric))
    .sort((a, b) => compareTrials(record.spec.metric, a, b));
  const rankOf = new Map(ranked.map((s, i) => [s.index, i + 1]));
  const header = ['trial', 'status', ...names, metric, ...(withValLoss ? ['val_loss'] : []), 'test_accuracy', 'test_loss', 'epochs', 'rank', 'note'];
  const rows = record.trials.map((trial) => {
    const state = states.get(trial.index);
    const note = state?.status === 'completed' ? '' : state?.reason ?? '';
    return [
      String(trial.index), state?.status ?? 'queued', ...names.map((n) => value(trial.values[n])), number(state?.metric), ...(withValLoss ? [number(state?.valLoss)] : []),
      number(state?.test?.accuracy), number(state?.test?.loss), number(state?.epochs), number(rankOf.get(trial.index)), csvField(note.split('\n')[0] ?? ''),
    ];
  });
  await folder.writeFile(RESULTS_FILE, [header.map(csvField).join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n');

  const runsRoot = path.dirname(path.dirname(path.dirname(folder.dir)));
  const compared: ComparedRun[] = [];
  for (const trial of record.trials) {
    const run = states.get(trial.index)?.run;
    if (!run) continue;
    const metrics = await readMetricRows(path.join(runsRoot, run)).catch(() => []);
    if (metrics.length > 0) compared.push({ label: `trial ${trial.index}`, metrics });
  }
  const fixed = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(4));
  const table = {
    header: ['trial', 'status', ...names, metric, ...(withValLoss ? ['val loss'] : []), 'rank', 'test accuracy', 'run', 'note'],
    rows: record.trials.map((trial) => {
      const state = states.get(trial.index);
      const best = record.best?.index === trial.index ? ' ★ best' : '';
      return [`trial ${trial.index}`, `${state?.status ?? 'queued'}${best}`, ...names.map((n) => JSON.stringify(trial.values[n])), fixed(state?.metric), ...(withValLoss ? [fixed(state?.valLoss)] : []), String(rankOf.get(trial.index) ?? '–'), fixed(state?.test?.accuracy), state?.run ?? '–', (state?.status === 'completed' ? '' : state?.reason ?? '').split('\n')[0]!];
    }),
  };
  const title = `sweep ${record.pipeline}/sweeps/${record.id}: ${record.spec.method}, ${record.trials.length} trials; best: ${rankingRule(record.spec.metric)}`;
  await folder.writeFile(SWEEP_REPORT_FILE, renderComparisonReport(title, compared, { metrics: table }));
  return { results: path.join(folder.dir, RESULTS_FILE), report: path.join(folder.dir, SWEEP_REPORT_FILE) };
}
