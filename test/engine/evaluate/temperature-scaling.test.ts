import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fitTemperature,
  meanNll,
  TEMPERATURE_RANGE,
  withTemperature,
} from '../../../src/engine/evaluate/temperature-scaling.js';

const softmax = (logits: number[]): number[] => {
  const top = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
};
const closeRows = (actual: number[], expected: number[], tolerance = 1e-12) =>
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < tolerance, `${actual.join()} ≠ ${expected.join()}`));

/**
 * Examples whose classes occur exactly as often as `calibrated` says (a
 * perfectly calibrated model), given as that model's probabilities raised
 * to `sharpen` (renormalised): an overconfident model for sharpen > 1, whose
 * NLL-minimising temperature is `sharpen` exactly.
 */
function sharpened(sharpen: number): { actual: number[]; probabilities: number[][] } {
  const groups: { p: number[]; counts: number[] }[] = [
    { p: [0.8, 0.1, 0.1], counts: [8, 1, 1] },
    { p: [0.6, 0.3, 0.1], counts: [6, 3, 1] },
    { p: [0.1, 0.2, 0.7], counts: [1, 2, 7] },
  ];
  const actual: number[] = [];
  const probabilities: number[][] = [];
  for (const { p, counts } of groups)
    counts.forEach((count, c) => {
      for (let k = 0; k < count; k++) {
        actual.push(c);
        probabilities.push(softmax(p.map((q) => Math.log(q) * sharpen)));
      }
    });
  return { actual, probabilities };
}

describe('withTemperature: softmax(log p / T), which is softmax(logits / T) whatever the head ends in', () => {
  const cases: { name: string; logits: number[]; temperature: number }[] = [
    { name: 'T = 1 changes nothing', logits: [2, 1, 0], temperature: 1 },
    { name: 'T = 2 softens', logits: [2, 1, 0], temperature: 2 },
    { name: 'T = 0.5 sharpens', logits: [0.3, -1, 4, 2], temperature: 0.5 },
    { name: 'large logits do not overflow', logits: [60, 20, -30], temperature: 3 },
  ];
  for (const c of cases)
    it(c.name, () => {
      const expected = softmax(c.logits.map((l) => l / c.temperature));
      closeRows(withTemperature(softmax(c.logits), c.temperature), expected, 1e-9);
    });

  it('a probability float32 rounded to 0 is clamped, not −∞: the row stays finite and sums to 1', () => {
    const row = withTemperature([1, 0, 0], 4);
    assert.ok(row.every(Number.isFinite));
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok(row[0]! > 0.99);
  });
});

describe('fitTemperature: the validation NLL minimised over T (golden section on log T)', () => {
  const cases: { name: string; data: () => { actual: number[]; probabilities: number[][] }; expected: number }[] = [
    { name: 'an overconfident model (logits × 3) gets T = 3', data: () => sharpened(3), expected: 3 },
    { name: 'an underconfident one (logits × 0.5) gets T = 0.5', data: () => sharpened(0.5), expected: 0.5 },
    { name: 'a calibrated one keeps T = 1', data: () => sharpened(1), expected: 1 },
  ];
  for (const c of cases)
    it(c.name, () => {
      const { actual, probabilities } = c.data();
      const fitted = fitTemperature(actual, probabilities);
      assert.ok(Math.abs(fitted.temperature - c.expected) < 1e-4, `T = ${fitted.temperature}`);
      assert.ok(fitted.nllAfter <= fitted.nllBefore);
      assert.ok(Math.abs(fitted.nllBefore - meanNll(actual, probabilities)) < 1e-12);
    });

  it('every answer right: sharper is always better, so T stops at the bottom of its range', () => {
    const fitted = fitTemperature(
      [0, 1, 0],
      [
        [0.9, 0.1],
        [0.2, 0.8],
        [0.7, 0.3],
      ],
    );
    assert.ok(Math.abs(fitted.temperature - TEMPERATURE_RANGE.min) < 1e-6, `T = ${fitted.temperature}`);
  });

  it('no examples: T = 1, deterministic', () => {
    assert.deepEqual(fitTemperature([], []), { temperature: 1, nllBefore: 0, nllAfter: 0 });
    const { actual, probabilities } = sharpened(2);
    assert.deepEqual(fitTemperature(actual, probabilities), fitTemperature(actual, probabilities));
  });
});
