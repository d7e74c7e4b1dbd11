import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { pixelCorrectCount, pixelLoss } from '../../../src/engine/train/pixel-loss.js';

before(async () => {
  await selectBackend('cpu');
});

/** Three pixels of one 1×3 image, 3 classes: logits by row, and each pixel's cross-entropy by hand. */
const LOGITS = [
  [2, 0, -1],
  [0.5, 1.5, 0],
  [1, 1, 3],
];
// log(Σ exp(row)) − row[true] for true classes 0, 1, 2, worked out with a calculator:
const CE = [0.16984601955628564, 0.4643687841079449, 0.2395447662218846];
/** Probabilities by row, true classes 0, 2, 1: −log p[true] = 0.35667…, 0.69314…, 0.22314…. */
const PROBABILITIES = [
  [0.7, 0.2, 0.1],
  [0.25, 0.25, 0.5],
  [0.1, 0.8, 0.1],
];

const logits = (): tf.Tensor4D => tf.tensor4d(LOGITS.flat(), [1, 1, 3, 3]);
const masks = (values: number[], shape: number[] = [1, 1, 3]): tf.Tensor => tf.tensor(values, shape, 'int32');

describe('pixelLoss against hand computation', () => {
  const cases: {
    name: string;
    kind: 'softmaxCrossEntropyFromLogits' | 'categoricalCrossentropy';
    predictions: () => tf.Tensor4D;
    mask: number[];
    maskShape?: number[];
    classWeights?: number[];
    ignoreIndex?: number;
    expected: number;
  }[] = [
    {
      name: 'logits, every pixel counted: the mean of the three',
      kind: 'softmaxCrossEntropyFromLogits',
      predictions: logits,
      mask: [0, 1, 2],
      expected: (CE[0]! + CE[1]! + CE[2]!) / 3,
    },
    {
      name: 'masks as [n, h, w, 1] read alike',
      kind: 'softmaxCrossEntropyFromLogits',
      predictions: logits,
      mask: [0, 1, 2],
      maskShape: [1, 1, 3, 1],
      expected: 0.29125318996203836,
    },
    {
      name: 'ignoreIndex 255: the third pixel is out of the sum and of the count',
      kind: 'softmaxCrossEntropyFromLogits',
      predictions: logits,
      mask: [0, 1, 255],
      ignoreIndex: 255,
      expected: (CE[0]! + CE[1]!) / 2,
    },
    {
      name: 'class weights scale each pixel by its true class, mean over counted pixels',
      kind: 'softmaxCrossEntropyFromLogits',
      predictions: logits,
      mask: [0, 1, 2],
      classWeights: [0.5, 2, 1],
      expected: (0.5 * CE[0]! + 2 * CE[1]! + 1 * CE[2]!) / 3,
    },
    {
      name: 'class weights and an ignoreIndex that is a class index (0) together',
      kind: 'softmaxCrossEntropyFromLogits',
      predictions: logits,
      mask: [1, 0, 2],
      classWeights: [5, 2, 3],
      ignoreIndex: 0,
      // Pixel 0 true 1: log Σ exp([2, 0, −1]) − 0 = 2.16984…; pixel 2 true 2: CE[2].
      expected: (2 * (CE[0]! + 2) + 3 * CE[2]!) / 2,
    },
    {
      name: 'every pixel ignored: 0, not NaN',
      kind: 'softmaxCrossEntropyFromLogits',
      predictions: logits,
      mask: [9, 9, 9],
      ignoreIndex: 9,
      expected: 0,
    },
    {
      name: 'probabilities (a softmax head): −log p[true], averaged',
      kind: 'categoricalCrossentropy',
      predictions: () => tf.tensor4d(PROBABILITIES.flat(), [1, 3, 1, 3]),
      mask: [0, 2, 1],
      maskShape: [1, 3, 1],
      expected: (0.35667494393873245 + 0.6931471805599453 + 0.2231435513142097) / 3,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const loss = pixelLoss(c.kind, masks(c.mask, c.maskShape), c.predictions(), {
        ...(c.classWeights ? { classWeights: tf.tensor1d(c.classWeights) } : {}),
        ...(c.ignoreIndex !== undefined ? { ignoreIndex: c.ignoreIndex } : {}),
      });
      const value = loss.dataSync()[0]!;
      assert.ok(Math.abs(value - c.expected) < 1e-5, `${value}, expected ${c.expected}`);
    });

  it('logits and their softmax give the same loss', () => {
    const fromLogits = pixelLoss('softmaxCrossEntropyFromLogits', masks([0, 1, 2]), logits()).dataSync()[0]!;
    const fromProbabilities = pixelLoss('categoricalCrossentropy', masks([0, 1, 2]), tf.softmax(logits())).dataSync()[0]!;
    assert.ok(Math.abs(fromLogits - fromProbabilities) < 1e-5, `${fromLogits} vs ${fromProbabilities}`);
  });

  it('sends no gradient to an ignored pixel, and the softmax − one-hot gradient to the others', () => {
    const gradient = tf.grad((x: tf.Tensor) =>
      pixelLoss('softmaxCrossEntropyFromLogits', masks([0, 1, 255]), x as tf.Tensor4D, { ignoreIndex: 255 }),
    )(logits());
    const rows = gradient.arraySync() as number[][][][];
    assert.deepEqual(rows[0]![0]![2], [0, 0, 0]);
    const softmax = tf.softmax(tf.tensor1d(LOGITS[0]!)).arraySync() as number[];
    // d(mean over 2 counted pixels)/d logit = (softmax − one-hot) / 2.
    rows[0]![0]![0]!.forEach((g, k) => assert.ok(Math.abs(g - (softmax[k]! - (k === 0 ? 1 : 0)) / 2) < 1e-6, `logit ${k}: ${g}`));
  });

  it('refuses predictions and masks of different pixel counts', () => {
    assert.throws(() => pixelLoss('softmaxCrossEntropyFromLogits', masks([0, 1], [1, 1, 2]), logits()), /3 predicted pixels against 2 mask pixels/);
  });

  it('leaves no tensor behind', () => {
    const x = logits();
    const m = masks([0, 1, 255]);
    const before = tf.memory().numTensors;
    pixelLoss('softmaxCrossEntropyFromLogits', m, x, { ignoreIndex: 255, classWeights: tf.tensor1d([1, 1, 1]) }).dispose();
    // The class-weight tensor made here is the one left.
    assert.equal(tf.memory().numTensors, before + 1);
  });
});

describe('pixelCorrectCount', () => {
  it('counts right pixels among the counted ones', () => {
    // Most likely: class 0, class 1, class 2.
    const cases: { mask: number[]; ignoreIndex?: number; correct: number; counted: number }[] = [
      { mask: [0, 1, 2], correct: 3, counted: 3 },
      { mask: [0, 2, 2], correct: 2, counted: 3 },
      { mask: [1, 255, 2], ignoreIndex: 255, correct: 1, counted: 2 },
    ];
    for (const c of cases) {
      const { correct, counted } = pixelCorrectCount(masks(c.mask), logits(), c.ignoreIndex);
      assert.deepEqual([correct.dataSync()[0], counted.dataSync()[0]], [c.correct, c.counted], JSON.stringify(c.mask));
    }
  });
});
