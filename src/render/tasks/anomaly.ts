import { renderAnomalyReport } from '../anomaly-report.js';
import { runFacts } from '../staged-report.js';
import type { TaskRender } from './task-render.js';

/** Anomaly: a report of the bank, the score histograms and the misjudged images with their heat maps; no demo page. */
export const anomalyRender: TaskRender = {
  report: (sources) => {
    const { record, plan, summary, gallery } = sources;
    if (!plan.anomaly) throw new Error('an anomaly plan describes its memory bank');
    return renderAnomalyReport({
      title: `${plan.pipeline} — run ${record.id}`,
      run: runFacts(sources),
      anomaly: plan.anomaly,
      ...(summary?.test && 'auroc' in summary.test ? { test: summary.test } : {}),
      ...(gallery?.scored ? { scored: gallery.scored } : {}),
      pipelineYaml: sources.pipelineYaml,
    });
  },
};
