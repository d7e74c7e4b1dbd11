import { decide, UNSURE, type DecisionRule } from './decision-rule.js';
import { rankedClasses, type Prediction } from './predict.js';

/**
 * Predictions made with every class in `top` (in any order), answered under
 * the rule: `top` becomes the calibrated probabilities, best first, cut to
 * `top` classes; `label` is the decided class or "unsure", and `unsure`
 * says which.
 */
export function decidedPredictions(
  predictions: readonly Prediction[],
  rule: DecisionRule,
  labels: readonly string[],
  top: number,
): Prediction[] {
  return predictions.map((prediction) => {
    const byLabel = new Map(prediction.top.map((t) => [t.label, t.probability]));
    const decided = decide(
      labels.map((l) => byLabel.get(l) ?? 0),
      rule,
      labels,
    );
    return {
      ...prediction,
      top: rankedClasses(decided.probabilities, labels).slice(0, top),
      label: decided.unsure ? UNSURE : labels[decided.predicted]!,
      unsure: decided.unsure,
    };
  });
}
