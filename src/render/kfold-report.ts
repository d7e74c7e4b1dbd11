import { meanPlusMinus } from '../plan/fold-metrics.js';
import type { KfoldSummary } from '../store/kfold-folder.js';
import { escapeHtml as escape } from './report-charts.js';
import { page } from './report-html.js';

const fixed = (v: number | null | undefined): string => (typeof v === 'number' ? v.toFixed(4) : '–');

/**
 * A k-fold run's report page: every metric as mean ± standard deviation,
 * then a table per metric with each fold's value, and the folds' runs
 * (linked: from runs/<pipeline>/kfold/<id>/ up to the runs folder).
 */
export function renderKfoldReport(summary: KfoldSummary): string {
  const names = Object.keys(summary.metrics);
  const headline = `<table class="kfold-summary"><tr><th>metric</th><th>mean ± std</th><th>folds</th></tr>${names
    .map((name) => {
      const m = summary.metrics[name]!;
      return `<tr><th>${escape(name)}</th><td>${escape(meanPlusMinus(m))}</td><td>${m.n}</td></tr>`;
    })
    .join('')}</table>`;
  const perMetric = names
    .map((name) => {
      const m = summary.metrics[name]!;
      const rows = m.folds.map((v, i) => `<tr><th>fold ${i + 1}</th><td>${fixed(v)}</td></tr>`).join('');
      return `<h3>${escape(name)}</h3><table class="kfold-metric" data-metric="${escape(name)}">${rows}<tr><th>mean ± std</th><td>${escape(meanPlusMinus(m))}</td></tr></table>`;
    })
    .join('\n');
  const runs = `<table class="kfold-runs"><tr><th>fold</th><th>status</th><th>run</th><th>note</th></tr>${summary.folds
    .map(
      (f) =>
        `<tr><td>${f.fold}</td><td>${escape(f.status)}</td><td>${f.run ? `<a href="../../../${escape(f.run)}/report.html">${escape(f.run)}</a>` : '–'}</td><td>${escape((f.reason ?? '').split('\n')[0]!)}</td></tr>`,
    )
    .join('')}</table>`;
  const error = summary.error ? `<p class="note">${escape(summary.error)}</p>` : '';
  const body = `<p class="headline">${summary.k}-fold cross-validation (stratified, seed ${summary.seed}): ${escape(summary.status)}</p>
${error}
<p class="note">Each fold trains on the other folds of train+validation and validates on its own; every fold is evaluated on the same test split. Standard deviations are sample standard deviations (n − 1). No model is trained on all of train+validation: each fold's run folder has the model it trained.</p>
<h2>Metrics (mean ± std over the folds)</h2>
${headline}
<h2>Per metric</h2>
${perMetric}
<h2>Fold runs</h2>
${runs}`;
  return page(`${summary.pipeline}/kfold/${summary.id}: ${summary.k}-fold cross-validation`, body);
}
