import type { DecisionMetrics } from '../engine/evaluate/decision-metrics.js';
import type { BinaryMetrics } from '../engine/evaluate/threshold-tuning.js';
import { escapeHtml as escape } from './report-charts.js';
import { reliabilityDiagram } from './reliability-diagram.js';

const fixed = (n: number | null | undefined, digits = 4): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);
const percent = (n: number | null | undefined): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : `${(n * 100).toFixed(1)}%`;

/**
 * The report's part for `evaluate: calibrate / threshold / abstain`: the
 * test split's reliability diagram before and after the fitted temperature,
 * the tuned threshold's metrics beside argmax's, and what abstaining costs
 * in coverage and buys in accuracy.
 */
export function decisionSection(decision: DecisionMetrics | undefined): string {
  if (!decision) return '';
  return [calibrationPart(decision), thresholdPart(decision), abstainPart(decision)].join('');
}

function calibrationPart({ calibration, validationExamples }: DecisionMetrics): string {
  if (!calibration) return '';
  const { before, after, temperature, validationNll } = calibration;
  return `<h2>Temperature scaling</h2><p id="temperature">Temperature <b>${fixed(temperature, 3)}</b>, fitted on ${validationExamples ?? 'the'} validation examples${validationNll ? ` (NLL ${fixed(validationNll.before)} → ${fixed(validationNll.after)})` : ''}. On the test split: expected calibration error <b>${fixed(before.ece)}</b> → <b>${fixed(after.ece)}</b>, NLL ${fixed(before.nll)} → ${fixed(after.nll)}. The predicted classes are the same; only the probabilities change.</p>
<div class="charts"><figure><figcaption>before (the model's own probabilities)</figcaption>${reliabilityDiagram(before)}</figure><figure><figcaption>after (temperature ${fixed(temperature, 3)})</figcaption>${reliabilityDiagram(after)}</figure></div>`;
}

function thresholdPart({ threshold }: DecisionMetrics): string {
  if (!threshold) return '';
  const row = (name: string, m: BinaryMetrics) =>
    `<tr><td>${name}</td><td>${fixed(m.accuracy, 3)}</td><td>${fixed(m.precision, 3)}</td><td>${fixed(m.recall, 3)}</td><td>${fixed(m.f1, 3)}</td><td>${fixed(m.balancedAccuracy, 3)}</td></tr>`;
  const goal =
    threshold.metric === 'precisionAtRecall' ? `precision at recall ≥ ${threshold.recall}` : threshold.metric;
  return `<h2>Decision threshold</h2><p id="threshold"><b>${escape(threshold.positive)}</b> is answered when its probability reaches <b>${fixed(threshold.value)}</b>, tuned on the validation split for ${escape(goal)}.${threshold.fallback ? ` ${escape(threshold.fallback)}.` : ''}</p>
<table><tr><th>test split (positive: ${escape(threshold.positive)})</th><th>accuracy</th><th>precision</th><th>recall</th><th>F1</th><th>balanced accuracy</th></tr>${row('tuned threshold', threshold.tuned)}${row('argmax', threshold.argmax)}${threshold.validation ? row('validation, tuned', threshold.validation) : ''}</table>`;
}

function abstainPart({ abstain }: DecisionMetrics): string {
  if (!abstain) return '';
  return `<h2>Abstention</h2><p id="abstain">Below a top probability of <b>${abstain.confidence}</b> the model answers “unsure”. On the test split it answers <b>${percent(abstain.coverage)}</b> of the examples (${abstain.answered}), with accuracy <b>${percent(abstain.accuracyAnswered)}</b> on those, against ${percent(abstain.accuracyAll)} answering all.</p>`;
}
