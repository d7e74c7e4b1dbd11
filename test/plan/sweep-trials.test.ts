import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ashaDecision,
  compareTrials,
  expandTrials,
  isBetter,
  rankingRule,
  resolveSweep,
  rungEpochs,
  trialMetric,
  trialValLoss,
  type SweepSpec,
} from '../../src/plan/sweep-trials.js';

const grid = (parameters: Record<string, { values: unknown[] }>): SweepSpec => resolveSweep({ parameters }, 42);

describe('expandTrials', () => {
  it('a grid is every combination, the last parameter varying fastest, numbered from 0', () => {
    const trials = expandTrials(
      grid({ 'base.cut': { values: ['a', 'b'] }, 'head[1].dense.units': { values: [32, 64, 128] } }),
    );
    assert.deepEqual(
      trials.map((t) => [t.index, t.values['base.cut'], t.values['head[1].dense.units']]),
      [
        [0, 'a', 32],
        [1, 'a', 64],
        [2, 'a', 128],
        [3, 'b', 32],
        [4, 'b', 64],
        [5, 'b', 128],
      ],
    );
  });

  it('values may be any YAML value: lists and mappings are set whole', () => {
    const trials = expandTrials(
      grid({
        'dataset.image.size': {
          values: [
            [32, 32],
            [48, 48],
          ],
        },
        'train.stages[0].optimizer': { values: [{ name: 'sgd' }] },
      }),
    );
    assert.deepEqual(
      trials.map((t) => t.values),
      [
        { 'dataset.image.size': [32, 32], 'train.stages[0].optimizer': { name: 'sgd' } },
        { 'dataset.image.size': [48, 48], 'train.stages[0].optimizer': { name: 'sgd' } },
      ],
    );
  });

  const random = (p: Record<string, object>, seed = 1, runCap = 200): SweepSpec =>
    resolveSweep({ method: 'random', runCap, seed, parameters: p }, 42);
  const cases: { name: string; parameter: object; check: (v: number) => boolean }[] = [
    { name: 'uniform stays in [min, max]', parameter: { min: 0.1, max: 0.5 }, check: (v) => v >= 0.1 && v <= 0.5 },
    {
      name: 'logUniform stays in [min, max]',
      parameter: { min: 0.0001, max: 0.01, distribution: 'logUniform' },
      check: (v) => v >= 0.0001 && v <= 0.01,
    },
    {
      name: 'int gives whole numbers, both ends included',
      parameter: { min: 1, max: 3, distribution: 'int' },
      check: (v) => Number.isInteger(v) && v >= 1 && v <= 3,
    },
  ];
  for (const c of cases) {
    it(`random: ${c.name}`, () => {
      const values = expandTrials(random({ x: c.parameter })).map((t) => t.values['x'] as number);
      assert.equal(values.length, 200);
      assert.deepEqual(
        values.filter((v) => !c.check(v)),
        [],
      );
      assert.ok(new Set(values).size > 2, 'the draws vary');
    });
  }

  it('random: int reaches both ends; logUniform spreads over the decades', () => {
    const ints = expandTrials(random({ x: { min: 1, max: 3, distribution: 'int' } })).map((t) => t.values['x']);
    assert.deepEqual([...new Set(ints)].sort(), [1, 2, 3]);
    const logs = expandTrials(random({ x: { min: 0.0001, max: 0.01, distribution: 'logUniform' } })).map(
      (t) => t.values['x'] as number,
    );
    const lowDecade = logs.filter((v) => v < 0.001).length;
    assert.ok(lowDecade > 60 && lowDecade < 140, `${lowDecade} of 200 below 0.001 (about half in log space)`);
  });

  it('random: the same seed gives the same trials, another seed others', () => {
    const draw = (seed: number) =>
      expandTrials(random({ x: { min: 0, max: 1 }, y: { values: ['a', 'b', 'c'] } }, seed, 5)).map((t) => t.values);
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
  });
});

describe('resolveSweep', () => {
  it('defaults: grid, val_accuracy maximized, the pipeline seed; a loss is minimized', () => {
    const spec = resolveSweep({ parameters: { 'base.cut': { values: ['a'] } } }, 9);
    assert.deepEqual([spec.method, spec.metric, spec.seed], ['grid', { name: 'val_accuracy', goal: 'maximize' }, 9]);
    assert.equal(
      resolveSweep({ metric: { name: 'test_loss' }, parameters: { a: { values: [1] } } }, 1).metric.goal,
      'minimize',
    );
    // Each task's first sweep metric is its default: segmentation ranks by mean IoU, not pixel accuracy.
    assert.deepEqual(resolveSweep({ parameters: { a: { values: [1] } } }, 1, 'segmentation').metric, {
      name: 'val_meanIoU',
      goal: 'maximize',
    });
    assert.deepEqual(
      resolveSweep({ earlyTerminate: { type: 'asha' }, parameters: { a: { values: [1] } } }, 1).earlyTerminate,
      { type: 'asha', minEpochs: 1, reductionFactor: 3 },
    );
  });
});

describe('ASHA', () => {
  it('rungs are minEpochs · η^k before the last epoch', () => {
    assert.deepEqual(rungEpochs({ type: 'asha', minEpochs: 1, reductionFactor: 3 }, 30), [1, 3, 9, 27]);
    assert.deepEqual(rungEpochs({ type: 'asha', minEpochs: 2, reductionFactor: 2 }, 8), [2, 4]);
    assert.deepEqual(rungEpochs({ type: 'asha', minEpochs: 5, reductionFactor: 3 }, 5), []);
  });

  const cases: { name: string; goal: 'maximize' | 'minimize'; value: number; earlier: number[]; stops: boolean }[] = [
    { name: 'the first trial at a rung goes on', goal: 'maximize', value: 0.1, earlier: [], stops: false },
    { name: 'below the top third stops', goal: 'maximize', value: 0.5, earlier: [0.6, 0.7, 0.8], stops: true },
    { name: 'at the top goes on', goal: 'maximize', value: 0.9, earlier: [0.6, 0.7, 0.8], stops: false },
    { name: 'at the cutoff goes on', goal: 'maximize', value: 0.7, earlier: [0.7, 0.7], stops: false },
    { name: 'minimize: a higher loss stops', goal: 'minimize', value: 0.9, earlier: [0.2, 0.3, 0.4], stops: true },
    { name: 'minimize: the lowest loss goes on', goal: 'minimize', value: 0.1, earlier: [0.2, 0.3, 0.4], stops: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const reason = ashaDecision(c.goal, 3, c.value, c.earlier);
      assert.equal(reason !== undefined, c.stops, reason);
      if (reason)
        assert.match(
          reason,
          /outside the best 1\/3 of the \d+ trial\(s\) that reached this rung before it \(cutoff [\d.]+\)/,
        );
    });
  }
});

describe('trialMetric and isBetter', () => {
  const rows = [
    { epoch: 1, val_accuracy: 0.5, val_loss: 1 },
    { epoch: 2, val_accuracy: 0.8, val_loss: 0.5 },
    { epoch: 3, val_accuracy: 0.7, val_loss: 0.6 },
  ];
  it('val_*: the epoch the trial ends with: the restored one, else the last', () => {
    assert.equal(trialMetric('val_accuracy', { rows }), 0.7);
    assert.equal(trialMetric('val_accuracy', { rows, restoredEpoch: 2 }), 0.8);
    assert.equal(trialMetric('val_loss', { rows, restoredEpoch: 2 }), 0.5);
  });
  it('test_*: the test split', () => {
    assert.equal(trialMetric('test_accuracy', { rows, test: { accuracy: 0.9, loss: 0.3 } }), 0.9);
    assert.equal(trialMetric('test_loss', { rows }), undefined);
  });
  it('a segmentation trial: val_meanIoU at the epoch it ends with, test_meanIoU on the test split', () => {
    const masks = [
      { epoch: 1, val_accuracy: 0.9, val_loss: 1, val_meanIoU: 0.3 },
      { epoch: 2, val_accuracy: 0.8, val_loss: 0.9, val_meanIoU: 0.5 },
    ];
    assert.equal(trialMetric('val_meanIoU', { rows: masks }), 0.5);
    assert.equal(trialMetric('val_meanIoU', { rows: masks, restoredEpoch: 1 }), 0.3);
    assert.equal(trialMetric('test_meanIoU', { rows: masks, test: { accuracy: 0.9, meanIoU: 0.45 } }), 0.45);
    assert.equal(trialMetric('val_meanIoU', { rows }), undefined);
  });
  it('an absent or NaN value is never better', () => {
    assert.equal(isBetter('maximize', 0.5, undefined), true);
    assert.equal(isBetter('maximize', Number.NaN, 0.1), false);
    assert.equal(isBetter('minimize', 0.2, 0.3), true);
  });
});

describe('compareTrials: one best, whatever order the trials finished in', () => {
  const maximize = { name: 'val_accuracy', goal: 'maximize' } as const;
  const minimize = { name: 'val_loss', goal: 'minimize' } as const;
  const best = (metric: SweepSpec['metric'], trials: { index: number; metric?: number; valLoss?: number }[]): number =>
    [...trials].sort((a, b) => compareTrials(metric, a, b))[0]!.index;
  const cases: {
    name: string;
    metric: SweepSpec['metric'];
    trials: { index: number; metric?: number; valLoss?: number }[];
    best: number;
  }[] = [
    {
      name: 'the metric first',
      metric: maximize,
      trials: [
        { index: 0, metric: 0.5, valLoss: 0.1 },
        { index: 1, metric: 0.75, valLoss: 0.9 },
      ],
      best: 1,
    },
    {
      name: 'a tie on the metric goes to the lower val_loss',
      metric: maximize,
      trials: [
        { index: 0, metric: 0.75, valLoss: 0.4 },
        { index: 1, metric: 0.75, valLoss: 0.3 },
        { index: 2, metric: 0.5, valLoss: 0.1 },
      ],
      best: 1,
    },
    {
      name: 'a tie on both goes to the lower index',
      metric: maximize,
      trials: [
        { index: 3, metric: 0.75, valLoss: 0.3 },
        { index: 1, metric: 0.75, valLoss: 0.3 },
        { index: 2, metric: 0.75, valLoss: 0.3 },
      ],
      best: 1,
    },
    {
      name: 'a missing val_loss ranks after one present',
      metric: maximize,
      trials: [
        { index: 0, metric: 0.75 },
        { index: 1, metric: 0.75, valLoss: 2 },
      ],
      best: 1,
    },
    {
      name: 'NaN and a missing metric rank last',
      metric: maximize,
      trials: [{ index: 0, metric: Number.NaN }, { index: 1 }, { index: 2, metric: 0.1 }],
      best: 2,
    },
    {
      name: 'minimize: lower first, then the index',
      metric: minimize,
      trials: [
        { index: 2, metric: 0.3, valLoss: 0.3 },
        { index: 1, metric: 0.3, valLoss: 0.3 },
        { index: 0, metric: 0.4, valLoss: 0.4 },
      ],
      best: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(best(c.metric, c.trials), c.best);
      // Every order of finishing gives the same best.
      assert.equal(best(c.metric, [...c.trials].reverse()), c.best);
    });
  }

  it('val_loss is taken at the epoch the metric is (the restored one, else the last); the rule is said', () => {
    const rows = [
      { epoch: 1, val_loss: 0.9 },
      { epoch: 2, val_loss: 0.5 },
      { epoch: 3, val_loss: 0.7 },
    ];
    assert.equal(trialValLoss({ rows }), 0.7);
    assert.equal(trialValLoss({ rows, restoredEpoch: 2 }), 0.5);
    assert.equal(
      rankingRule(maximize),
      'highest val_accuracy; a tie goes to the lowest val_loss, then to the lowest trial index',
    );
    assert.equal(rankingRule(minimize), 'lowest val_loss; a tie goes to the lowest trial index');
  });
});
