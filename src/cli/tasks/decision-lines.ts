import type { ClassificationEvaluation } from '../../api/index.js';
import { terminalText } from '../terminal-text.js';

type DecisionMetrics = NonNullable<ClassificationEvaluation['metrics']['decision']>;
type Binary = NonNullable<DecisionMetrics['threshold']>['tuned'];

const n4 = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : v.toFixed(4));
const binary = (m: Binary): string =>
  `accuracy ${n4(m.accuracy)}  precision ${n4(m.precision)}  recall ${n4(m.recall)}  f1 ${n4(m.f1)}  balanced accuracy ${n4(m.balancedAccuracy)}`;

/** `evaluate: calibrate / threshold / abstain`, briefly: the temperature and the ECE it changes, the threshold against argmax, the coverage of abstaining. */
export function decisionLines(decision: DecisionMetrics | undefined): string[] {
  if (!decision) return [];
  const lines: string[] = [];
  const { calibration, threshold, abstain } = decision;
  if (calibration)
    lines.push(
      `temperature ${calibration.temperature.toFixed(3)}: expected calibration error ${n4(calibration.before.ece)} → ${n4(calibration.after.ece)}, NLL ${n4(calibration.before.nll)} → ${n4(calibration.after.nll)}`,
    );
  if (threshold) {
    const goal =
      threshold.metric === 'precisionAtRecall' ? `precision at recall ≥ ${threshold.recall}` : threshold.metric;
    lines.push(
      `threshold ${n4(threshold.value)} on ${terminalText(threshold.positive)} (tuned for ${goal} on validation)`,
      `  tuned:  ${binary(threshold.tuned)}`,
      `  argmax: ${binary(threshold.argmax)}`,
    );
  }
  if (abstain)
    lines.push(
      `abstain below ${abstain.confidence}: answers ${(abstain.coverage * 100).toFixed(1)}% (${abstain.answered}), accuracy ${n4(abstain.accuracyAnswered)} on those (${n4(abstain.accuracyAll)} on all)`,
    );
  return ['', 'decision rule (decision.json):', ...lines.map((l) => `  ${l}`)];
}
