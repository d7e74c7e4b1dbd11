import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { coralLoss, covariance } from '../../../src/engine/adapt/coral.js';
import { spatialMean as pooledFeatures } from '../../../src/engine/model/spatial-mean.js';
import { DomainClassifier } from '../../../src/engine/adapt/domain-classifier.js';
import { reversalScale, reverseGradient } from '../../../src/engine/adapt/gradient-reversal.js';
import { selectBackend } from '../../../src/engine/kernels/backend.js';

before(async () => {
  await selectBackend('cpu');
});

const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `${what}: ${actual} ≠ ${expected}`);

const coral = (source: number[][], target: number[][]): number =>
  tf.tidy(() => coralLoss(tf.tensor2d(source), tf.tensor2d(target)).dataSync()[0]!);

/** Four 2-d rows whose covariance is (4/3)·I: the corners of a square of side 2. */
const SQUARE = [
  [0, 0],
  [2, 0],
  [0, 2],
  [2, 2],
];

describe('CORAL loss ‖C_s − C_t‖²_F / 4d² (Sun & Saenko, 2016)', () => {
  const cases: { name: string; source: number[][]; target: number[][]; expected: number }[] = [
    { name: 'identical batches', source: SQUARE, target: SQUARE, expected: 0 },
    {
      name: 'the same rows shifted: covariance ignores the mean',
      source: SQUARE,
      target: SQUARE.map((r) => r.map((v) => v + 5)),
      expected: 0,
    },
    {
      name: 'the same rows in another order',
      source: SQUARE,
      target: [SQUARE[3]!, SQUARE[1]!, SQUARE[0]!, SQUARE[2]!],
      expected: 0,
    },
    // C_s = (4/3)I, C_t = 0: 2·(4/3)² / 16.
    { name: 'against a constant batch', source: SQUARE, target: SQUARE.map(() => [1, 1]), expected: 2 / 9 },
    // C_t = diag(4/3, 0): the difference is (4/3)² in one entry.
    {
      name: 'one dimension without spread',
      source: SQUARE,
      target: [
        [1, 0],
        [-1, 0],
        [1, 0],
        [-1, 0],
      ],
      expected: 1 / 9,
    },
    // C_t = (5/3)·ones: the difference [[−1/3, −5/3], [−5/3, −1/3]] squares to 52/9.
    {
      name: 'correlated dimensions (off-diagonal terms)',
      source: SQUARE,
      target: [
        [0, 0],
        [1, 1],
        [2, 2],
        [3, 3],
      ],
      expected: 52 / 9 / 16,
    },
    // Batches of different sizes: each covariance has its own n − 1.
    {
      name: 'a target batch of another size',
      source: SQUARE,
      target: [
        [0, 0],
        [2, 2],
      ],
      expected: ((4 / 3 - 2) ** 2 * 2 + 2 * 2 ** 2) / 16,
    },
  ];
  for (const c of cases) it(c.name, () => close(coral(c.source, c.target), c.expected, c.name));

  it('scales with the fourth power of the features (covariance is quadratic, the loss squares it)', () => {
    const target = [
      [0, 1],
      [3, 2],
      [1, 0],
      [2, 5],
    ];
    for (const s of [0.5, 3])
      close(
        coral(
          SQUARE.map((r) => r.map((v) => v * s)),
          target.map((r) => r.map((v) => v * s)),
        ),
        s ** 4 * coral(SQUARE, target),
        `scale ${s}`,
      );
  });

  it('divides by 4d²: the same spread in twice the dimensions, each pair as before, is half the loss', () => {
    const wide = (rows: number[][]): number[][] => rows.map((r) => [...r, ...r.map(() => 0)]);
    const target = SQUARE.map(() => [1, 1]);
    close(coral(wide(SQUARE), wide(target)), coral(SQUARE, target) / 4, 'd = 4');
  });

  it('a batch of one has no spread to estimate: zero covariance, not NaN', () => {
    assert.deepEqual(Array.from(tf.tidy(() => covariance(tf.tensor2d([[1, 2]])).dataSync())), [0, 0, 0, 0]);
  });

  it('pools a feature map [n, h, w, c] to its spatial mean [n, c]; rows stay as they are', () => {
    const map = tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]);
    assert.deepEqual(Array.from(pooledFeatures(map).dataSync()), [2.5, 25]);
    const rows = tf.tensor2d([[1, 2]]);
    assert.equal(pooledFeatures(rows), rows);
    tf.dispose([map, rows]);
  });
});

describe('gradient reversal (Ganin et al., 2016)', () => {
  const x = [0.5, -2, 3];
  const w = [1, 2, -4];
  for (const scale of [0, 0.25, 1, 3]) {
    it(`scale ${scale}: the identity forward, −${scale} × the gradient backward`, () => {
      const [forward, grad] = tf.tidy(() => {
        const input = tf.tensor1d(x);
        const forwardValues = Array.from(reverseGradient(input, scale).dataSync());
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(reverseGradient(t, scale), tf.tensor1d(w))))(input);
        return [forwardValues, Array.from(g.dataSync())];
      });
      assert.deepEqual(forward, x);
      grad.forEach((g, i) => close(g, -scale * w[i]!, `∂/∂x${i}`));
    });
  }

  const schedule: { progress: number; weight: number; expected: number }[] = [
    { progress: 0, weight: 1, expected: 0 },
    { progress: 0.1, weight: 1, expected: 2 / (1 + Math.exp(-1)) - 1 },
    { progress: 0.5, weight: 2, expected: 2 * (2 / (1 + Math.exp(-5)) - 1) },
    { progress: 1, weight: 0.3, expected: 0.3 * (2 / (1 + Math.exp(-10)) - 1) },
    { progress: 1, weight: 0, expected: 0 },
  ];
  for (const c of schedule)
    it(`λ at progress ${c.progress}, weight ${c.weight}: weight × (2/(1+e^(−10p)) − 1)`, () =>
      close(reversalScale(c.weight, c.progress), c.expected, 'λ'));
});

describe('the domain classifier', () => {
  /** One Adam step on a fixed batch: features [4, 3] labelled 0, 0, 1, 1. */
  const step = (classifier: DomainClassifier): void => {
    const { grads, value } = tf.variableGrads(
      () =>
        tf.losses.sigmoidCrossEntropy(
          tf.tensor2d([[0], [0], [1], [1]]),
          classifier.logits(
            tf.tensor2d([
              [1, 0, 2],
              [0, 1, 1],
              [3, 3, 0],
              [2, 4, 1],
            ]),
          ),
        ) as tf.Scalar,
      classifier.variables,
    );
    classifier.step(grads);
    tf.dispose([value, grads]);
  };
  const weightsOf = (classifier: DomainClassifier): number[][] =>
    classifier.model.getWeights().map((w) => Array.from(w.dataSync()));

  it('starts from weights the seed and stage name decide', () => {
    const [a, b, c] = [
      new DomainClassifier(3, 7, 'tune'),
      new DomainClassifier(3, 7, 'tune'),
      new DomainClassifier(3, 7, 'other'),
    ];
    assert.deepEqual(weightsOf(a), weightsOf(b));
    assert.notDeepEqual(weightsOf(a), weightsOf(c));
    for (const m of [a, b, c]) m.dispose();
  });

  it('restored from a snapshot (weights and Adam state), it goes on exactly as the original', async () => {
    const original = new DomainClassifier(3, 7, 'tune');
    step(original);
    step(original);
    const snapshot = await original.snapshot();
    const restored = new DomainClassifier(3, 99, 'elsewhere');
    await restored.restore(snapshot);
    tf.dispose([
      ...snapshot.weights,
      ...snapshot.optimizer.weights.filter((w) => w.name === 'iter').map((w) => w.tensor),
    ]);
    step(original);
    step(restored);
    assert.deepEqual(weightsOf(restored), weightsOf(original));
    original.dispose();
    restored.dispose();
  });

  it('refuses a snapshot of another shape with a message, not a stack of tfjs', async () => {
    const small = new DomainClassifier(2, 7, 'tune');
    const snapshot = await small.snapshot();
    const other = new DomainClassifier(3, 7, 'tune');
    await assert.rejects(other.restore(snapshot), /does not fit this stage's/);
    for (const m of [small, other]) m.dispose();
  });
});
