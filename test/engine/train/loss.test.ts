import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { BatchSource } from '../../../src/engine/data/batches.js';
import type { EpochMetrics } from '../../../src/engine/events.js';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { SeededRandom } from '../../../src/engine/random.js';
import { batchLoss, correctCount, evaluateSource, IGNORED } from '../../../src/engine/train/loss.js';
import { trainStage } from '../../../src/engine/train/train-stage.js';
import { evaluateMasks } from '../../../src/engine/tasks/segmentation/evaluate-masks.js';
import type { LossKind, PlanStage } from '../../../src/plan/types.js';
import { headStage } from '../../fixtures/head-stage.js';

before(async () => {
  await selectBackend('cpu');
});

/** Class scores of one pixel: class 0 favoured. */
const SAYS_0 = [2, 0];
const _ = IGNORED;
/**
 * Three 2×2 images, every pixel predicted class 0: the first all class 0
 * (4 of 4 right), the second all class 1 (0 of 4), the third one counted
 * pixel of class 0 (1 of 1). Over the split 5 of 9 counted pixels are right;
 * weighting each batch by its images instead would give 2/3 for batches
 * [first, second] and [third].
 */
const MASKS = [
  [0, 0, 0, 0],
  [1, 1, 1, 1],
  [0, _, _, _],
];
const PIXEL_ACCURACY = 5 / 9;
/** Class 0: 5 true pixels, 9 predicted, 5 both; class 1: 4 true, none predicted. */
const MEAN_IOU = (5 / 9 + 0) / 2;
/** Softmax cross-entropy of scores [2, 0]: 5 counted pixels of class 0 and 4 of class 1, averaged over the 9. */
const PIXEL_LOSS = (5 * Math.log(1 + Math.exp(-2)) + 4 * Math.log(1 + Math.exp(2))) / 9;

const scores = tf.tensor4d(
  MASKS.flatMap((m) => m.flatMap(() => SAYS_0)),
  [3, 2, 2, 2],
);
const masks = tf.tensor3d(MASKS.flat(), [3, 2, 2], 'int32');
const source: BatchSource = {
  count: 3,
  batch: async (positions) => ({ x: tf.gather(scores, positions), y: tf.gather(masks, positions) }),
};
after(() => tf.dispose([scores, masks]));

/** A 1×1 convolution set to the identity: its output is its input, the scores above, until it learns. */
function passThrough(): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.conv2d({ inputShape: [2, 2, 2], filters: 2, kernelSize: 1, useBias: false, name: 'scores' })],
  });
  model.layers[0]!.setWeights([tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2])]);
  return model;
}

describe('pixel accuracy over a split is correct counted pixels / counted pixels', () => {
  const PER_PIXEL: LossKind[] = ['perPixelSoftmaxCrossEntropyFromLogits', 'perPixelCategoricalCrossentropy'];
  for (const kind of PER_PIXEL) {
    it(`evaluateSource, ${kind}: batches of 8 and 1 counted pixels`, async () => {
      const model = passThrough();
      try {
        const result = await evaluateSource(model, source, 2, kind);
        assert.ok(Math.abs(result.accuracy - PIXEL_ACCURACY) < 1e-12, `${result.accuracy}`);
        assert.ok(Math.abs(result.meanIoU! - MEAN_IOU) < 1e-12, `${result.meanIoU}`);
        // The scores are logits: the loss from them is known (as probabilities they are not ones).
        if (kind === 'perPixelSoftmaxCrossEntropyFromLogits')
          assert.ok(Math.abs(result.loss - PIXEL_LOSS) < 1e-6, `loss ${result.loss}`);
      } finally {
        model.dispose();
      }
    });
  }

  it("evaluateMasks: the same per-pixel loss and pixel accuracy from the plan's kind or, with no plan, the last layer's", async () => {
    const model = passThrough();
    try {
      const [fromPlan, fromModel] = await Promise.all(
        (['perPixelSoftmaxCrossEntropyFromLogits', 'softmaxCrossEntropyFromLogits'] as const).map(
          async (kind) => (await evaluateMasks(model, source, kind, ['a', 'b'], ['x', 'y', 'z'], 2)).metrics,
        ),
      );
      assert.ok(Math.abs(fromPlan!.pixelAccuracy - PIXEL_ACCURACY) < 1e-12, `${fromPlan!.pixelAccuracy}`);
      assert.ok(Math.abs(fromPlan!.loss - PIXEL_LOSS) < 1e-6, `loss ${fromPlan!.loss}`);
      assert.deepEqual(fromModel, fromPlan);
    } finally {
      model.dispose();
    }
  });

  it('the training loop: the epoch and its validation, in whatever batches the shuffle makes', async () => {
    const model = passThrough();
    const epochs: EpochMetrics[] = [];
    try {
      await trainStage(
        model,
        frozenStage(),
        { train: source, validation: source },
        'perPixelSoftmaxCrossEntropyFromLogits',
        new SeededRandom(3),
        {
          onEvent: (event) => {
            if (event.type === 'epoch-end') epochs.push(event.metrics);
          },
          onEpochEnd: async () => undefined,
        },
      );
    } finally {
      model.dispose();
    }
    assert.equal(epochs.length, 2);
    for (const m of epochs) {
      assert.ok(Math.abs(m.accuracy - PIXEL_ACCURACY) < 1e-12, `accuracy ${m.accuracy}`);
      assert.ok(Math.abs(m.val_accuracy! - PIXEL_ACCURACY) < 1e-12, `val_accuracy ${m.val_accuracy}`);
      assert.ok(Math.abs(m.val_meanIoU! - MEAN_IOU) < 1e-12, `val_meanIoU ${m.val_meanIoU}`);
      assert.ok(Math.abs(m.val_loss! - PIXEL_LOSS) < 1e-6, `val_loss ${m.val_loss}`);
      assert.ok(Math.abs(m.loss - PIXEL_LOSS) < 1e-6, `loss ${m.loss}`);
    }
  });
});

describe('correctCount and batchLoss follow the loss kind', () => {
  const onehot = tf.tensor2d([
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ]);
  const predicted = tf.tensor2d([
    [3, 1, 0],
    [0, 2, 1],
    [2, 0, 1],
  ]);
  after(() => tf.dispose([onehot, predicted]));
  const cases: {
    name: string;
    kind: LossKind;
    truth: () => tf.Tensor;
    pred: () => tf.Tensor;
    right: [number, number];
  }[] = [
    {
      name: 'examples: counted = examples',
      kind: 'softmaxCrossEntropyFromLogits',
      truth: () => onehot,
      pred: () => predicted,
      right: [2, 3],
    },
    {
      name: 'examples from probabilities',
      kind: 'categoricalCrossentropy',
      truth: () => onehot,
      pred: () => tf.softmax(predicted),
      right: [2, 3],
    },
    {
      name: 'pixels: ignored pixels not counted',
      kind: 'perPixelSoftmaxCrossEntropyFromLogits',
      truth: () => masks,
      pred: () => scores,
      right: [5, 9],
    },
  ];
  for (const c of cases) {
    it(`correctCount, ${c.name}: ${c.right[0]} of ${c.right[1]}`, () => {
      const got = tf.tidy(() => {
        const { correct, counted } = correctCount(c.kind, c.truth(), c.pred());
        return [correct.dataSync()[0], counted.dataSync()[0]];
      });
      assert.deepEqual(got, c.right);
    });
  }

  /** Rows where tied scores decide: ties go to the first index (as tf.argMax's), a NaN is never the largest (rows 2 and 4 right). */
  const ties = {
    truth: [
      [0, 1, 0],
      [1, 0, 0],
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ],
    pred: [
      [0.5, 0.5, 0],
      [0.5, 0.5, 0],
      [0.2, 0.4, 0.4],
      [NaN, 1, 2],
      [0, NaN, 0],
    ],
  };
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`correctCount of examples counts what tf.argMax would, ties and NaN included (${backend})`, async () => {
      await selectBackend(backend);
      try {
        const [got, expected] = tf.tidy(() => {
          const [truth, pred] = [tf.tensor2d(ties.truth), tf.tensor2d(ties.pred)];
          const byArgMax = tf.sum(tf.cast(tf.equal(tf.argMax(truth, -1), tf.argMax(pred, -1)), 'float32'));
          return [correctCount('categoricalCrossentropy', truth, pred).correct.dataSync()[0], byArgMax.dataSync()[0]];
        });
        assert.equal(got, expected);
        assert.equal(got, 2);
      } finally {
        await selectBackend('cpu');
      }
    });
  }

  it('a per-pixel kind from probabilities is the same loss as from their logits', () => {
    const [fromLogits, fromProbabilities] = tf.tidy(() => [
      batchLoss('perPixelSoftmaxCrossEntropyFromLogits', masks, scores).dataSync()[0]!,
      batchLoss('perPixelCategoricalCrossentropy', masks, tf.softmax(scores)).dataSync()[0]!,
    ]);
    // −log softmax([2, 0]) of the true class, over the 9 counted pixels: 5 right, 4 wrong.
    const expected = (5 * Math.log1p(Math.exp(-2)) + 4 * Math.log1p(Math.exp(2))) / 9;
    assert.ok(Math.abs(fromLogits! - expected) < 1e-5, `${fromLogits} vs ${expected}`);
    assert.ok(Math.abs(fromProbabilities! - expected) < 1e-5, `${fromProbabilities} vs ${expected}`);
  });
});

/** Two epochs of sgd at rate 0, batches of 2: the model's scores stay as set, so every epoch's accuracy is known. */
function frozenStage(): PlanStage {
  return headStage(0, {
    epochs: 2,
    batchSize: 2,
    optimizer: { name: 'sgd' },
    trainableParams: 4,
    totalParams: 4,
  });
}
