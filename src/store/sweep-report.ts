import path from 'node:path';
import { compareTrials } from '../plan/sweep-trials.js';
import { readMetricRows } from './metrics-file.js';
import { csvField, type ComparedRunMetrics } from './report-file.js';
import type { SweepFolder, SweepRecord, TrialState } from './sweep-folder.js';

export const RESULTS_FILE = 'results.csv';
export const SWEEP_REPORT_FILE = 'report.html';

/** What a sweep's report page shows, read from the sweep's record and its trials' runs. */
export interface SweepReportSources {
  record: SweepRecord;
  states: ReadonlyMap<number, TrialState>;
  /** Each completed trial's rank (1 the best), as results.csv has it. */
  rankOf: ReadonlyMap<number, number>;
  /** The curves of the trials whose runs have metrics, in trial order. */
  compared: ComparedRunMetrics[];
}

/** The renderer of a sweep's report page, handed in from above the store (src/render/). */
export type SweepReportRenderer = (sources: SweepReportSources) => string;

/**
 * results.csv and report.html of a sweep, from its record and its trials'
 * states and runs. results.csv holds only what the trials' plans decide
 * (values, status, metrics), not which process ran them or when, so the
 * same sweep gives the same file with -j 1, -j 3 or on a queue. `rank` is
 * the order of the completed trials by the sweep's metric, then val_loss,
 * then the trial index (compareTrials): rank 1 is the best, ties included.
 * report.html is what `render` makes of the trials' curves and states.
 */
export async function writeSweepReport(
  folder: SweepFolder,
  states: ReadonlyMap<number, TrialState>,
  render: SweepReportRenderer,
): Promise<{ results: string; report: string }> {
  const { record } = folder;
  const names = record.spec.parameters.map((p) => p.name);
  const metric = record.spec.metric.name;
  const value = (v: unknown): string =>
    typeof v === 'number' ? String(v) : csvField(typeof v === 'string' ? v : JSON.stringify(v));
  const number = (v: number | undefined): string => (v === undefined ? '' : String(v));
  const withValLoss = metric !== 'val_loss';
  const ranked = [...states.values()]
    .filter((s) => s.status === 'completed' && s.metric !== undefined && Number.isFinite(s.metric))
    .sort((a, b) => compareTrials(record.spec.metric, a, b));
  const rankOf = new Map(ranked.map((s, i) => [s.index, i + 1]));
  const header = [
    'trial',
    'status',
    ...names,
    metric,
    ...(withValLoss ? ['val_loss'] : []),
    'test_accuracy',
    'test_loss',
    'epochs',
    'rank',
    'note',
  ];
  const rows = record.trials.map((trial) => {
    const state = states.get(trial.index);
    const note = state?.status === 'completed' ? '' : (state?.reason ?? '');
    return [
      String(trial.index),
      state?.status ?? 'queued',
      ...names.map((n) => value(trial.values[n])),
      number(state?.metric),
      ...(withValLoss ? [number(state?.valLoss)] : []),
      number(state?.test?.accuracy),
      number(state?.test?.loss),
      number(state?.epochs),
      number(rankOf.get(trial.index)),
      csvField(note.split('\n')[0] ?? ''),
    ];
  });
  await folder.writeFile(
    RESULTS_FILE,
    [header.map(csvField).join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n',
  );

  const runsRoot = path.dirname(path.dirname(path.dirname(folder.dir)));
  const compared: ComparedRunMetrics[] = [];
  for (const trial of record.trials) {
    const run = states.get(trial.index)?.run;
    if (!run) continue;
    const metrics = await readMetricRows(path.join(runsRoot, run)).catch(() => []);
    if (metrics.length > 0) compared.push({ label: `trial ${trial.index}`, metrics });
  }
  await folder.writeFile(SWEEP_REPORT_FILE, render({ record, states, rankOf, compared }));
  return { results: path.join(folder.dir, RESULTS_FILE), report: path.join(folder.dir, SWEEP_REPORT_FILE) };
}
