/**
 * How an exported classifier turns its output into an answer, as fitted on
 * the validation split (`evaluate: calibrate / threshold / abstain`) and
 * stored with the model (model/decision.json): temperature first, then the
 * two-class threshold, then abstention below a confidence.
 */
import type { ThresholdMetric } from '../../format/evaluation-keys.js';
import { argMax } from './metrics.js';
import { withTemperature } from './temperature-scaling.js';

/** What "unsure" answers are labelled: not a class name a model can have, since labels.json could hold any string — `unsure: true` says it. */
export const UNSURE = 'unsure';

/** model/decision.json: each part present when the pipeline asked for it. */
export interface DecisionRule {
  /** Probabilities are softmax(log p / temperature). */
  temperature?: number;
  /** Two classes: `positive` (a class name) is answered when its probability reaches `value`. */
  threshold?: { positive: string; value: number; metric: ThresholdMetric; recall?: number };
  /** Below this top probability (after calibration) the answer is "unsure". */
  abstain?: number;
}

/** One example's answer under a rule: the calibrated probabilities, the class chosen (an index), and whether it abstains. */
export interface Decided {
  probabilities: number[];
  predicted: number;
  unsure: boolean;
}

/** The rule applied to one row of the model's probabilities (labels: the model's classes, for the threshold's positive class). */
export function decide(probabilities: readonly number[], rule: DecisionRule, labels: readonly string[]): Decided {
  const calibrated =
    rule.temperature !== undefined && rule.temperature !== 1
      ? withTemperature(probabilities, rule.temperature)
      : [...probabilities];
  let predicted = argMax(calibrated);
  const positive = rule.threshold ? labels.indexOf(rule.threshold.positive) : -1;
  if (rule.threshold && positive >= 0 && calibrated.length === 2)
    predicted = calibrated[positive]! >= rule.threshold.value ? positive : 1 - positive;
  // The confidence is the top probability, whichever class the threshold chose: how sure the model is of anything.
  const unsure = rule.abstain !== undefined && Math.max(...calibrated) < rule.abstain;
  return { probabilities: calibrated, predicted, unsure };
}

/** Whether the rule changes anything (a pipeline without `evaluate:` fitting keys writes none). */
export const isEmptyRule = (rule: DecisionRule): boolean =>
  rule.temperature === undefined && rule.threshold === undefined && rule.abstain === undefined;
