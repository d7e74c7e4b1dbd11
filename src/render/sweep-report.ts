import { rankingRule } from '../plan/sweep-trials.js';
import type { SweepReportSources } from '../store/sweep-report.js';
import { renderComparisonReport } from './report-html.js';

/** A sweep's report page: every trial's curves on shared charts, and a table of its values, scores, rank and run. */
export function renderSweepReport({ record, states, rankOf, compared }: SweepReportSources): string {
  const names = record.spec.parameters.map((p) => p.name);
  const metric = record.spec.metric.name;
  const withValLoss = metric !== 'val_loss';
  const fixed = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(4));
  const table = {
    header: [
      'trial',
      'status',
      ...names,
      metric,
      ...(withValLoss ? ['val loss'] : []),
      'rank',
      'test accuracy',
      'run',
      'note',
    ],
    rows: record.trials.map((trial) => {
      const state = states.get(trial.index);
      const best = record.best?.index === trial.index ? ' ★ best' : '';
      return [
        `trial ${trial.index}`,
        `${state?.status ?? 'queued'}${best}`,
        ...names.map((n) => JSON.stringify(trial.values[n])),
        fixed(state?.metric),
        ...(withValLoss ? [fixed(state?.valLoss)] : []),
        String(rankOf.get(trial.index) ?? '–'),
        fixed(state?.test?.accuracy),
        state?.run ?? '–',
        (state?.status === 'completed' ? '' : (state?.reason ?? '')).split('\n')[0]!,
      ];
    }),
  };
  const title = `sweep ${record.pipeline}/sweeps/${record.id}: ${record.spec.method}, ${record.trials.length} trials; best: ${rankingRule(record.spec.metric)}`;
  return renderComparisonReport(title, compared, { metrics: table });
}
