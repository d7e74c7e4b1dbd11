import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { buildHeadLayers, buildHeadModel } from '../../../src/engine/model/build-models.js';
import { SeededRandom } from '../../../src/engine/random.js';
import type { BatchSource } from '../../../src/engine/data/batches.js';
import { trainStage } from '../../../src/engine/train/train-stage.js';
import type { PlanStage } from '../../../src/plan/types.js';
import type { OptimizerSpec } from '../../../src/format/types.js';
import { headStage } from '../../fixtures/head-stage.js';

const X = [
  [1, 2],
  [0.5, -1],
  [-0.3, 0.8],
];
const Y = [
  [1, 0],
  [0, 1],
  [1, 0],
];
const LR = 0.1;

function stage(optimizer: Partial<OptimizerSpec>): PlanStage {
  return headStage(LR, { optimizer });
}

/** One full-batch step of trainStage on a 2→2 linear layer; the kernel and bias before and after, and the reference gradients. */
async function oneStep(
  optimizer: Partial<OptimizerSpec>,
): Promise<{ before: number[][]; after: number[][]; grads: number[][] }> {
  const model = buildHeadModel(
    buildHeadLayers([{ type: 'dense', units: 2, activation: 'linear', useBias: true }], 5),
    [2],
  );
  const x = tf.tensor2d(X);
  const y = tf.tensor2d(Y);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const before = vars.map((v) => [...v.dataSync()]);
  // The gradient by tf.grads of the same loss, taken apart from the training loop.
  const { grads } = tf.variableGrads(
    () =>
      tf.mean(
        tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor, undefined, 0, tf.Reduction.NONE),
      ) as tf.Scalar,
    vars,
  );
  const reference = vars.map((v) => [...grads[v.name]!.dataSync()]);
  tf.dispose(Object.values(grads));
  const source: BatchSource = { count: 3, batch: async (p) => ({ x: tf.gather(x, p), y: tf.gather(y, p) }) };
  await trainStage(model, stage(optimizer), { train: source }, 'softmaxCrossEntropyFromLogits', new SeededRandom(1), {
    onEvent: () => undefined,
    onEpochEnd: async () => undefined,
  });
  const after = vars.map((v) => [...v.dataSync()]);
  model.dispose();
  return { before, after, grads: reference };
}

describe('one optimizer step of the training loop equals the textbook update', () => {
  before(async () => {
    await selectBackend('wasm');
  });
  const EPSILON = 1e-7; // tfjs's adam epsilon on float32 backends
  const cases: {
    name: string;
    optimizer: Partial<OptimizerSpec>;
    update: (w: number, g: number, isKernel: boolean) => number;
  }[] = [
    { name: 'sgd: w − lr·g', optimizer: { name: 'sgd' }, update: (w, g) => w - LR * g },
    {
      name: 'sgd with nesterov momentum 0.9, first step: w − lr·(g + 0.9·g)',
      optimizer: { name: 'sgd', momentum: 0.9, nesterov: true },
      update: (w, g) => w - LR * (g + 0.9 * g),
    },
    {
      name: 'adam, first step: w − lr·g/(|g| + ε)',
      optimizer: { name: 'adam' },
      update: (w, g) => w - (LR * g) / (Math.abs(g) + EPSILON),
    },
    {
      name: 'adamw: kernels decay by (1 − lr·wd) first, biases do not, then the adam step',
      optimizer: { name: 'adamw', weightDecay: 0.5 },
      update: (w, g, isKernel) => (isKernel ? w * (1 - LR * 0.5) : w) - (LR * g) / (Math.abs(g) + EPSILON),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { before: w0, after: w1, grads } = await oneStep(c.optimizer);
      w0.forEach((values, v) =>
        values.forEach((w, i) => {
          const expected = c.update(w, grads[v]![i]!, v === 0);
          assert.ok(Math.abs(w1[v]![i]! - expected) < 1e-5, `variable ${v}[${i}]: ${w1[v]![i]} vs ${expected}`);
        }),
      );
    });
  }
});
