import type { AnomalyEvaluation } from '../../api/index.js';
import type { DatasetReport } from '../../api/index.js';
import type { Plan } from '../../plan/types.js';
import { terminalText } from '../terminal-text.js';
import type { TaskLines } from './task-lines.js';

/** Anomaly: the bank and the threshold instead of stages; the normal classes' share of the data; a score and a verdict. */
export const anomalyLines: TaskLines<'anomaly'> = {
  evaluation: (e) => formatAnomaly(e),
  plan: (plan) => bankLines(plan),
  data: (report) => (report.normal ? normalImages(report, report.normal) : undefined),
  answers: (p) => p.anomaly !== undefined,
  prediction: (p) =>
    `${terminalText(p.file)}: ${p.anomaly!.anomalous ? 'anomalous' : 'normal'} (score ${p.anomaly!.score.toFixed(3)}, threshold ${p.anomaly!.threshold.toFixed(3)})`,
};

/** What a `task: anomaly` plan does instead of training: the patches, the bank, the threshold. */
function bankLines(plan: Plan): string[] {
  const anomaly = plan.anomaly;
  if (!anomaly) return [];
  const mib = (anomaly.bank.bytes / 2 ** 20).toFixed(1);
  return [
    `task: anomaly — normal: ${anomaly.normal.map(terminalText).join(', ')}; every other class is anomalous`,
    `patches: ${anomaly.layers.join(' + ')}, each map averaged over 3×3 and resized to ${anomaly.grid.join('×')}, ${anomaly.channels} features per patch`,
    `memory bank: ${anomaly.bank.patches} of the ${anomaly.bank.fromPatches} normal training patches (greedy coreset ${anomaly.coreset}, ${mib} MiB), in model/ with the threshold`,
    `threshold: the ${anomaly.quantile} quantile of the normal validation images' scores`,
    `pixels: ${plan.normalize.description}`,
    'what learns: nothing — the base stays frozen and the bank is filled in one pass',
  ];
}

/** Which of the examples the bank, the threshold and the test use. */
function normalImages(report: DatasetReport, normal: string[]): string {
  const indexes = normal.map((name) => report.classNames.indexOf(name)).filter((c) => c >= 0);
  const sum = (split: 'train' | 'validation'): number =>
    indexes.reduce((n, c) => n + (report.counts[split][c] ?? 0), 0);
  return `task anomaly: the memory bank is filled from the ${sum('train')} training images of the normal classes (${normal.map(terminalText).join(', ')}), the threshold taken from their ${sum('validation')} validation images; the test split scores every class`;
}

/** An anomaly model's: AUROC, average precision, F1 and accuracy at its threshold, each class's scores, the most wrongly judged. */
function formatAnomaly({ metrics, classNames, unseen }: AnomalyEvaluation): string {
  const num = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(4));
  const shown = classNames.map(terminalText);
  const width = Math.max(5, ...shown.map((n) => n.length));
  const perClass = classNames.map((name, i) => {
    const c = metrics.perClass[name]!;
    const kind = c.normal ? 'normal' : unseen.includes(name) ? 'unseen' : 'anomalous';
    return `  ${shown[i]!.padEnd(width)}  ${kind.padEnd(9)}  ${String(c.examples).padStart(6)}  ${c.meanScore.toFixed(4).padStart(10)}  ${String(c.flagged).padStart(7)}`;
  });
  const { atThreshold: t } = metrics;
  return [
    `AUROC ${num(metrics.auroc)}  average precision ${num(metrics.averagePrecision)}  F1 ${metrics.f1.toFixed(4)}  accuracy ${metrics.accuracy.toFixed(4)}  (${metrics.examples} images: ${metrics.normalExamples} normal, ${metrics.anomalousExamples} anomalous)`,
    `at the model's threshold ${t.threshold.toPrecision(4)}: precision ${t.precision.toFixed(4)}, recall ${t.recall.toFixed(4)}`,
    '',
    `  ${'class'.padEnd(width)}  ${'counts as'.padEnd(9)}  images  mean score  flagged`,
    ...perClass,
    ...(unseen.length > 0
      ? ['', `not among the run's classes, so scored as anomalous: ${unseen.map(terminalText).join(', ')}`]
      : []),
    '',
    'most wrongly judged (furthest on the wrong side of the threshold):',
    ...metrics.worst
      .slice(0, 10)
      .map(
        (w) =>
          `  ${terminalText(w.example)}: ${terminalText(w.actual)} (${w.anomalous ? 'anomalous' : 'normal'}), score ${w.score.toFixed(4)}`,
      ),
  ].join('\n');
}
