import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, type DecisionRule } from '../../../src/engine/evaluate/decision-rule.js';
import { decisionMetrics, fitDecision } from '../../../src/engine/evaluate/decision-metrics.js';

const labels2 = ['cat', 'dog'];
const labels3 = ['a', 'b', 'c'];

describe('decide: temperature, then the two-class threshold, then "unsure" below the top probability', () => {
  const cases: {
    name: string;
    row: number[];
    rule: DecisionRule;
    labels: string[];
    predicted: number;
    unsure: boolean;
    top?: number;
  }[] = [
    { name: 'no rule: argmax', row: [0.2, 0.5, 0.3], rule: {}, labels: labels3, predicted: 1, unsure: false },
    {
      name: 'a temperature keeps the class and softens the probability',
      row: [0.1, 0.9],
      rule: { temperature: 2 },
      labels: labels2,
      predicted: 1,
      unsure: false,
      top: 0.75, // softmax(log 0.1 / 2, log 0.9 / 2) = 3 / (1 + 3)
    },
    {
      name: 'a low threshold answers the positive class below 0.5',
      row: [0.65, 0.35],
      rule: { threshold: { positive: 'dog', value: 0.3, metric: 'f1' } },
      labels: labels2,
      predicted: 1,
      unsure: false,
    },
    {
      name: 'a high threshold answers the other class above 0.5',
      row: [0.3, 0.7],
      rule: { threshold: { positive: 'dog', value: 0.8, metric: 'f1' } },
      labels: labels2,
      predicted: 0,
      unsure: false,
    },
    {
      name: 'the positive class may be the first',
      row: [0.4, 0.6],
      rule: { threshold: { positive: 'cat', value: 0.35, metric: 'balancedAccuracy' } },
      labels: labels2,
      predicted: 0,
      unsure: false,
    },
    {
      name: 'below the abstain confidence: unsure',
      row: [0.3, 0.45, 0.25],
      rule: { abstain: 0.5 },
      labels: labels3,
      predicted: 1,
      unsure: true,
    },
    {
      name: 'abstain judges the calibrated probability: 0.9 softened by T = 2 is 0.75, below 0.8',
      row: [0.1, 0.9],
      rule: { temperature: 2, abstain: 0.8 },
      labels: labels2,
      predicted: 1,
      unsure: true,
    },
    {
      name: 'at the abstain confidence: answered',
      row: [0.4, 0.6],
      rule: { abstain: 0.6 },
      labels: labels2,
      predicted: 1,
      unsure: false,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const decided = decide(c.row, c.rule, c.labels);
      assert.equal(decided.predicted, c.predicted);
      assert.equal(decided.unsure, c.unsure);
      assert.ok(Math.abs(decided.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-12);
      if (c.top !== undefined) assert.ok(Math.abs(Math.max(...decided.probabilities) - c.top) < 1e-12);
    });
});

describe('fitDecision and decisionMetrics: fitted on validation, measured on test', () => {
  // Validation: an overconfident two-class model, right 3 times in 4 at probability 0.99.
  const actual = [1, 1, 1, 0, 0, 0, 0, 1];
  const probabilities = [
    [0.01, 0.99],
    [0.01, 0.99],
    [0.01, 0.99],
    [0.01, 0.99],
    [0.99, 0.01],
    [0.99, 0.01],
    [0.99, 0.01],
    [0.99, 0.01],
  ];
  const fitted = fitDecision(
    actual,
    probabilities,
    { calibrate: 'temperature', threshold: { metric: 'f1', positive: 'dog' }, abstain: 0.7 },
    labels2,
  );

  it('the temperature brings 0.99 down to about 0.75, the accuracy', () => {
    const calibrated = decide(probabilities[0]!, fitted.rule, labels2).probabilities[1]!;
    assert.ok(Math.abs(calibrated - 0.75) < 1e-4, `${calibrated}`);
    assert.ok(fitted.rule.temperature! > 1);
    assert.equal(fitted.fit.validationExamples, 8);
  });

  it('the test metrics: ECE lower after, the threshold beside argmax, the coverage of abstaining', () => {
    const metrics = decisionMetrics(actual, probabilities, fitted.rule, labels2, fitted.fit);
    assert.ok(metrics.calibration!.after.ece < metrics.calibration!.before.ece);
    assert.ok(metrics.calibration!.after.nll < metrics.calibration!.before.nll);
    assert.equal(metrics.threshold!.positive, 'dog');
    assert.equal(metrics.threshold!.argmax.accuracy, 0.75);
    assert.equal(metrics.abstain!.coverage, 1);
    assert.equal(metrics.abstain!.accuracyAnswered, 0.75);
  });

  it('a validation split with one class only keeps the threshold at 0.5 and says why', () => {
    const one = fitDecision(
      [1, 1],
      [
        [0.2, 0.8],
        [0.4, 0.6],
      ],
      { calibrate: 'none', threshold: { metric: 'f1', positive: 'dog' } },
      labels2,
    );
    assert.equal(one.rule.threshold!.value, 0.5);
    assert.match(one.fit.threshold!.fallback!, /no example of the other class/);
  });
});
