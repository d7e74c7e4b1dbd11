import type { ClassificationEvaluation } from '../../api/index.js';
import { stagedPlanLines } from '../format-plan.js';
import { terminalText } from '../terminal-text.js';
import { decisionLines } from './decision-lines.js';
import type { TaskLines } from './task-lines.js';

/** Classification: the staged plan; an image's (or row's) most likely classes. */
export const classificationLines: TaskLines<'classification'> = {
  evaluation: (e) => formatClassification(e),
  plan: (plan) => stagedPlanLines(plan),
  // The default: every prediction that is not another task's.
  answers: () => true,
  prediction: (p) =>
    `${terminalText(p.file)}: ${p.label !== undefined ? `${p.unsure ? 'unsure' : terminalText(p.label)} — ` : ''}${p.top.map((t) => `${terminalText(t.label)} ${(t.probability * 100).toFixed(1)}%`).join(', ')}`,
};

/** A classifier's: headline numbers, a per-class table, the confusion matrix, the worst examples. */
function formatClassification({ metrics, classNames }: ClassificationEvaluation): string {
  const pct = (v: number): string => v.toFixed(4);
  // Undefined where the test data has no example of the class (or nothing else).
  const ranked = (v: number | null): string => (v === null ? '–'.padEnd(6) : pct(v));
  const topK = Object.entries(metrics.topK)
    .filter(([k]) => k !== 'top1')
    .map(([k, v]) => `${k.replace('top', 'top-')} ${pct(v)}`)
    .join('  ');
  // Class names come from the model's labels.json: shown escaped, and measured as shown.
  const shown = classNames.map(terminalText);
  const width = Math.max(5, ...shown.map((n) => n.length));
  const perClass = classNames.map((name, i) => {
    const m = metrics.perClass[name]!;
    return `  ${shown[i]!.padEnd(width)}  ${pct(m.precision)}     ${pct(m.recall)}  ${pct(m.f1)}  ${ranked(m.auroc)}  ${ranked(m.averagePrecision)}  ${String(m.support).padStart(7)}`;
  });
  const cell = Math.max(4, ...metrics.confusionMatrix.flat().map((v) => String(v).length));
  const matrix = metrics.confusionMatrix.map(
    (row, i) => `  ${shown[i]!.padEnd(width)}  ${row.map((v) => String(v).padStart(cell)).join(' ')}`,
  );
  const tta = metrics.tta;
  return [
    `accuracy ${pct(metrics.accuracy)}  loss ${pct(metrics.loss)}  ${topK}  (${metrics.examples} examples)`,
    ...(tta
      ? [
          `with test-time augmentation (${tta.transforms.join(', ')}: ${tta.views.length} views averaged): accuracy ${pct(tta.accuracy)}  loss ${pct(tta.loss)}  expected calibration error ${pct(tta.calibration.ece)}`,
        ]
      : []),
    '',
    `  ${'class'.padEnd(width)}  precision  recall  f1      auroc   ap      support`,
    ...perClass,
    '',
    `calibration: expected calibration error ${pct(metrics.calibration.ece)} (${metrics.calibration.bins.length} bins of the predicted class's probability)`,
    ...decisionLines(metrics.decision),
    '',
    'confusion matrix (rows: actual, columns: predicted in the same order)',
    ...matrix,
    '',
    'most wrong (lowest probability of the true class):',
    ...metrics.worst
      .slice(0, 10)
      .map(
        (w) =>
          `  ${terminalText(w.example)}: ${terminalText(w.actual)} → ${terminalText(w.predicted)} (p(actual) ${w.probabilityOfActual.toFixed(3)})`,
      ),
  ].join('\n');
}
