import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { weightsAt } from '../../../src/engine/data/batches.js';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { batchLoss } from '../../../src/engine/train/loss.js';
import type { ExampleLoss } from '../../../src/plan/types.js';

before(async () => {
  await selectBackend('cpu');
});

/** Four examples of three classes, with scores that give each a different loss. */
const Y = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
  [1, 0, 0],
];
const LOGITS = [
  [2, 0, -1],
  [0.5, 0.2, 0],
  [-1, 1, 0.3],
  [0, 0, 3],
];
const KINDS: ExampleLoss[] = ['softmaxCrossEntropyFromLogits', 'categoricalCrossentropy'];

/** The scores as the head gives them for a loss kind: logits, or probabilities after softmax. */
const predicted = (kind: ExampleLoss, rows: number[][]): tf.Tensor2D =>
  kind === 'categoricalCrossentropy' ? tf.softmax(tf.tensor2d(rows)) : tf.tensor2d(rows);

/** Each example's own loss, unweighted: the batch loss of that example alone. */
function lossesOf(kind: ExampleLoss, labelSmoothing = 0): number[] {
  return Y.map((y, i) =>
    tf.tidy(() => batchLoss(kind, tf.tensor2d([y]), predicted(kind, [LOGITS[i]!]), { labelSmoothing }).arraySync()),
  );
}

function loss(
  kind: ExampleLoss,
  options: { exampleWeights?: number[]; classWeights?: number[]; labelSmoothing?: number; rows?: number[] } = {},
): number {
  const rows = options.rows ?? [0, 1, 2, 3];
  return tf.tidy(() =>
    batchLoss(
      kind,
      tf.tensor2d(rows.map((r) => Y[r]!)),
      predicted(
        kind,
        rows.map((r) => LOGITS[r]!),
      ),
      {
        ...(options.exampleWeights ? { exampleWeights: tf.tensor1d(options.exampleWeights) } : {}),
        ...(options.classWeights ? { classWeights: tf.tensor1d(options.classWeights) } : {}),
        ...(options.labelSmoothing ? { labelSmoothing: options.labelSmoothing } : {}),
      },
    ).arraySync(),
  );
}

describe("example weights are Keras' sample_weight: Σ wᵢ lᵢ / n", () => {
  for (const kind of KINDS) {
    it(`${kind}: weights of 1 give the unweighted loss (with class weights and label smoothing too)`, () => {
      const ones = [1, 1, 1, 1];
      for (const options of [{}, { classWeights: [0.5, 2, 1] }, { labelSmoothing: 0.1 }]) {
        const plain = loss(kind, options);
        assert.equal(loss(kind, { ...options, exampleWeights: ones }), plain);
      }
    });

    it(`${kind}: a batch all of one weight 0.3 (source examples only) has 0.3× the loss at weight 1`, () => {
      const atOne = loss(kind, { exampleWeights: [1, 1, 1, 1] });
      const atPointThree = loss(kind, { exampleWeights: [0.3, 0.3, 0.3, 0.3] });
      assert.ok(Math.abs(atPointThree - 0.3 * atOne) < 1e-6, `${atPointThree} vs ${0.3 * atOne}`);
    });

    it(`${kind}: an example weighing 0 adds nothing to the loss and has no gradient`, () => {
      const l = lossesOf(kind);
      const expected = (l[0]! + l[1]! + l[3]!) / 4;
      const zeroed = loss(kind, { exampleWeights: [1, 1, 0, 1] });
      assert.ok(Math.abs(zeroed - expected) < 1e-6, `${zeroed} vs ${expected}`);
      const logits = tf.variable(tf.tensor2d(LOGITS));
      const { value, grads } = tf.variableGrads(() =>
        batchLoss(kind, tf.tensor2d(Y), kind === 'categoricalCrossentropy' ? tf.softmax(logits) : logits, {
          exampleWeights: tf.tensor1d([1, 1, 0, 1]),
        }),
      );
      const rows = grads[logits.name]!.arraySync() as number[][];
      assert.deepEqual(
        rows[2]!.map((g) => Math.abs(g)),
        [0, 0, 0],
      );
      assert.ok(
        rows[0]!.some((g) => g !== 0),
        'the examples that weigh something have a gradient',
      );
      tf.dispose([logits, value, ...Object.values(grads)]);
    });

    it(`${kind}: example and class weights multiply, over the batch's size`, () => {
      const l = lossesOf(kind);
      const w = [0.3, 1, 2, 0.5];
      const classWeights = [0.5, 2, 1];
      const cw = Y.map((y) => classWeights[y.indexOf(1)]!);
      const expected = l.reduce((sum, li, i) => sum + w[i]! * cw[i]! * li, 0) / w.length;
      const got = loss(kind, { exampleWeights: w, classWeights });
      assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
    });
  }

  it('a batch whose every weight is 0 has loss 0 and gradient 0, not NaN', () => {
    const logits = tf.variable(tf.tensor2d(LOGITS));
    const { value, grads } = tf.variableGrads(() =>
      batchLoss('softmaxCrossEntropyFromLogits', tf.tensor2d(Y), logits, { exampleWeights: tf.zeros([4]) }),
    );
    assert.equal(value.arraySync(), 0);
    assert.deepEqual(
      (grads[logits.name]!.arraySync() as number[][]).flat().map((g) => Math.abs(g)),
      new Array<number>(12).fill(0),
    );
    tf.dispose([logits, value, ...Object.values(grads)]);
  });
});

describe('source weights by position decay per epoch', () => {
  const weights = { from: 2, weights: Float32Array.from([0.5, 2]), decay: 0.5 };
  const cases: { name: string; positions: number[]; epoch: number; expected: number[] }[] = [
    { name: "the pipeline's own examples weigh 1", positions: [0, 1], epoch: 3, expected: [1, 1] },
    { name: 'epoch 1: the source weights as read', positions: [3, 0, 2], epoch: 1, expected: [2, 1, 0.5] },
    { name: 'epoch 3: × decay²', positions: [2, 3], epoch: 3, expected: [0.125, 0.5] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual([...weightsAt(weights, c.positions, c.epoch)], c.expected));
});
