import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { learningRateAt } from '../../src/plan/learning-rate-schedule.js';
import { resolveSchedule } from '../../src/format/load-pipeline.js';
import type { ScheduleSpec } from '../../src/format/types.js';

/** Each case: a schedule over `epochs` epochs at peak 0.1, and the rate expected at epoch positions t. */
const CASES: { name: string; schedule: ScheduleSpec; epochs: number; expected: [t: number, lr: number][] }[] = [
  {
    name: 'constant',
    schedule: { type: 'constant' },
    epochs: 4,
    expected: [
      [0, 0.1],
      [1.5, 0.1],
      [3.99, 0.1],
    ],
  },
  {
    name: 'step: ×0.5 every 2 epochs, at epoch boundaries only',
    schedule: { type: 'step', everyEpochs: 2, factor: 0.5 },
    epochs: 6,
    expected: [
      [0, 0.1],
      [1.99, 0.1],
      [2, 0.05],
      [3.5, 0.05],
      [4, 0.025],
      [5.99, 0.025],
    ],
  },
  {
    name: 'exponential: ×0.5 per epoch, smoothly within an epoch',
    schedule: { type: 'exponential', factor: 0.5 },
    epochs: 4,
    expected: [
      [0, 0.1],
      [0.5, 0.1 * Math.SQRT1_2],
      [1, 0.05],
      [3, 0.0125],
    ],
  },
  {
    name: 'cosine with 1 warmup epoch of 5, down to 0.01',
    schedule: { type: 'cosine', warmupEpochs: 1, minLearningRate: 0.01 },
    epochs: 5,
    expected: [
      [0, 0],
      [0.5, 0.05],
      [1, 0.1],
      [3, 0.055],
      [5, 0.01],
    ],
  },
  {
    name: 'cosine without warmup: halfway is the mean of peak and floor',
    schedule: { type: 'cosine', warmupEpochs: 0, minLearningRate: 0 },
    epochs: 10,
    expected: [
      [0, 0.1],
      [5, 0.05],
      [10, 0],
    ],
  },
  {
    name: 'one-cycle (PyTorch OneCycleLR, cos): from peak/25 up to peak at 30%, then to peak/25e4',
    schedule: { type: 'oneCycle', warmupFraction: 0.3, divFactor: 25, finalDivFactor: 1e4 },
    epochs: 10,
    expected: [
      [0, 0.004],
      [1.5, (0.004 + 0.1) / 2],
      [3, 0.1],
      [6.5, (0.1 + 4e-7) / 2],
      [10, 4e-7],
    ],
  },
];

describe('learning-rate schedules: epoch position → rate', () => {
  for (const c of CASES) {
    it(c.name, () => {
      for (const [t, lr] of c.expected) {
        const actual = learningRateAt(c.schedule, 0.1, t, c.epochs);
        assert.ok(Math.abs(actual - lr) < 1e-12, `t=${t}: expected ${lr}, got ${actual}`);
      }
    });
  }

  it("fills each schedule type's documented defaults", () => {
    assert.deepEqual(resolveSchedule(undefined), { type: 'constant' });
    assert.deepEqual(resolveSchedule({ type: 'step', everyEpochs: 3 }), { type: 'step', everyEpochs: 3, factor: 0.1 });
    assert.deepEqual(resolveSchedule({ type: 'exponential' }), { type: 'exponential', factor: 0.9 });
    assert.deepEqual(resolveSchedule({ type: 'cosine' }), { type: 'cosine', warmupEpochs: 0, minLearningRate: 0 });
    assert.deepEqual(resolveSchedule({ type: 'oneCycle' }), {
      type: 'oneCycle',
      warmupFraction: 0.3,
      divFactor: 25,
      finalDivFactor: 1e4,
    });
  });
});
