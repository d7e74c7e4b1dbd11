/**
 * Fitting a decision rule on the validation split's predictions, and what
 * it changes on the test split's: calibration before and after, the tuned
 * threshold against argmax, and the coverage of abstention.
 */
import type { EvaluationSpec } from '../../format/evaluation-keys.js';
import { decide, type DecisionRule } from './decision-rule.js';
import { argMax, calibrationOf, type Calibration } from './metrics.js';
import { fitTemperature, meanNll, withTemperature } from './temperature-scaling.js';
import { binaryMetrics, tuneThreshold, type BinaryMetrics } from './threshold-tuning.js';

/** What a plan's decision task fits: the `evaluate:` keys that are fitted, with the threshold's positive class named. */
export interface DecisionGoal {
  calibrate: EvaluationSpec['calibrate'];
  threshold?: { metric: NonNullable<EvaluationSpec['threshold']>['metric']; recall?: number; positive: string };
  abstain?: number;
}

/** How the rule was fitted on the validation split. */
export interface DecisionFit {
  validationExamples: number;
  /** calibrate: temperature — the validation NLL at T = 1 and at the fitted T. */
  temperature?: { value: number; nllBefore: number; nllAfter: number };
  /** threshold — the validation metrics at the tuned threshold; `fallback` when validation could not tune it (one class only) and 0.5 was kept. */
  threshold?: { value: number; validation: BinaryMetrics; fallback?: string };
}

export interface FittedDecision {
  rule: DecisionRule;
  fit: DecisionFit;
}

/** The threshold kept when the validation split cannot tune one: what argmax decides between two classes. */
const UNTUNED_THRESHOLD = 0.5;

/** The rule fitted on validation predictions (true classes and the model's probabilities), in the order: temperature, threshold on the calibrated probabilities, abstain as given. */
export function fitDecision(
  actual: readonly number[],
  probabilities: readonly number[][],
  goal: DecisionGoal,
  labels: readonly string[],
): FittedDecision {
  const rule: DecisionRule = {};
  const fit: DecisionFit = { validationExamples: actual.length };
  let calibrated = probabilities;
  if (goal.calibrate === 'temperature') {
    const fitted = fitTemperature(actual, probabilities);
    rule.temperature = fitted.temperature;
    fit.temperature = { value: fitted.temperature, nllBefore: fitted.nllBefore, nllAfter: fitted.nllAfter };
    calibrated = probabilities.map((p) => withTemperature(p, fitted.temperature));
  }
  if (goal.threshold) {
    const positive = labels.indexOf(goal.threshold.positive);
    const truth = actual.map((a) => a === positive);
    const scores = calibrated.map((p) => p[positive]!);
    const tuned = tuneThreshold(scores, truth, goal.threshold);
    const value = tuned?.value ?? UNTUNED_THRESHOLD;
    rule.threshold = {
      positive: goal.threshold.positive,
      value,
      metric: goal.threshold.metric,
      ...(goal.threshold.recall !== undefined ? { recall: goal.threshold.recall } : {}),
    };
    fit.threshold = {
      value,
      validation:
        tuned?.validation ??
        binaryMetrics(
          truth,
          scores.map((s) => s >= value),
        ),
      ...(tuned
        ? {}
        : {
            fallback: `the validation split has ${truth.some((t) => t) ? 'no example of the other class' : `no example of ${goal.threshold.positive}`}, so the threshold stays at ${UNTUNED_THRESHOLD}`,
          }),
    };
  }
  if (goal.abstain !== undefined) rule.abstain = goal.abstain;
  return { rule, fit };
}

/** Calibration on one split: the expected calibration error with its bins, and the mean NLL. */
export interface SplitCalibration extends Calibration {
  nll: number;
}

/** summary.json `test.decision` (and `tlpipe evaluate`'s): the rule's effect on the test split; the validation parts when it was just fitted. */
export interface DecisionMetrics {
  validationExamples?: number;
  calibration?: {
    temperature: number;
    validationNll?: { before: number; after: number };
    before: SplitCalibration;
    after: SplitCalibration;
  };
  threshold?: {
    positive: string;
    value: number;
    metric: string;
    recall?: number;
    fallback?: string;
    validation?: BinaryMetrics;
    /** The test split decided by the tuned threshold, and by argmax. */
    tuned: BinaryMetrics;
    argmax: BinaryMetrics;
  };
  abstain?: {
    confidence: number;
    /** The fraction of test examples answered (top probability at least `confidence`), how many, and the accuracy on them and on all. */
    coverage: number;
    answered: number;
    accuracyAnswered: number | null;
    accuracyAll: number;
  };
}

/** The rule's effect on test predictions (true classes and the model's uncalibrated probabilities); `fit`, how it was fitted, when known. */
export function decisionMetrics(
  actual: readonly number[],
  probabilities: readonly number[][],
  rule: DecisionRule,
  labels: readonly string[],
  fit?: DecisionFit,
): DecisionMetrics {
  const decided = probabilities.map((p) => decide(p, rule, labels));
  const metrics: DecisionMetrics = fit ? { validationExamples: fit.validationExamples } : {};
  if (rule.temperature !== undefined) {
    const after = decided.map((d) => d.probabilities);
    metrics.calibration = {
      temperature: rule.temperature,
      ...(fit?.temperature
        ? { validationNll: { before: fit.temperature.nllBefore, after: fit.temperature.nllAfter } }
        : {}),
      before: { ...calibrationOf(actual, probabilities), nll: meanNll(actual, probabilities) },
      after: { ...calibrationOf(actual, after), nll: meanNll(actual, after) },
    };
  }
  if (rule.threshold) {
    const positive = labels.indexOf(rule.threshold.positive);
    const truth = actual.map((a) => a === positive);
    metrics.threshold = {
      ...rule.threshold,
      ...(fit?.threshold?.fallback ? { fallback: fit.threshold.fallback } : {}),
      ...(fit?.threshold ? { validation: fit.threshold.validation } : {}),
      tuned: binaryMetrics(
        truth,
        decided.map((d) => d.predicted === positive),
      ),
      argmax: binaryMetrics(
        truth,
        decided.map((d) => argMax(d.probabilities) === positive),
      ),
    };
  }
  if (rule.abstain !== undefined) {
    const answered = decided.map((d, i) => ({ d, i })).filter(({ d }) => !d.unsure);
    const correct = answered.filter(({ d, i }) => d.predicted === actual[i]).length;
    metrics.abstain = {
      confidence: rule.abstain,
      coverage: actual.length === 0 ? 0 : answered.length / actual.length,
      answered: answered.length,
      accuracyAnswered: answered.length === 0 ? null : correct / answered.length,
      accuracyAll: actual.length === 0 ? 0 : decided.filter((d, i) => d.predicted === actual[i]).length / actual.length,
    };
  }
  return metrics;
}
