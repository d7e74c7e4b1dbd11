/**
 * `npm run bench:profile`: where a training step's time goes on the wasm
 * backend, kernel by kernel: the seed article's CNN on the real MNIST digits
 * (batch 32, Adam as tlpipe's trainer makes it), a small CNN from scratch at 28×28, and the top
 * blocks of MobileNetV2 fine-tuned at 96×96 — through the whole model (as
 * tlpipe trained before the frozen-prefix split, and still does with
 * TLPIPE_FROZEN_PREFIX=0), above the frozen prefix on its stored output,
 * and with augmentation (the folded prefix first, outside the tape).
 * TLPIPE_WASM_NATIVE=FusedBatchNorm,Identity,… keeps those kernels native,
 * to see what each replacement buys. Prints the kernels by total time.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/engine/kernels/backend.js';
import { buildBase } from '../src/engine/model/build-models.js';
import { augmentedBatch, fineTuneStep, smallCnn, topBlocksTuned, trainStep } from './bench-models.js';
import { loadZooArtifacts } from '../src/engine/model/zoo.js';
import { readFileSync } from 'node:fs';
import { mnistFiles } from '../src/engine/data/idx-dataset.js';
import { parseIdx } from '../src/engine/data/idx-file.js';
import { createOptimizer } from '../src/engine/train/optimizers.js';

await selectBackend('wasm');
const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
const original = engine.runKernel.bind(engine);
const totals = new Map<string, { ms: number; calls: number }>();
engine.runKernel = (name: string, ...rest: unknown[]) => {
  const started = performance.now();
  try {
    return original(name, ...rest);
  } finally {
    // Nested kernels (composed ones) count in their caller too; the table says which are which.
    const t = totals.get(name) ?? { ms: 0, calls: 0 };
    t.ms += performance.now() - started;
    t.calls++;
    totals.set(name, t);
  }
};

function profile(label: string, step: (i: number) => void, batch: number, steps: number): void {
  step(0);
  totals.clear();
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < steps; i++) step(i + 1);
  const wall = (performance.now() - started) / steps;
  const used = process.cpuUsage(cpu);
  const rows = [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12);
  // Processor time beside wall time: on a shared machine the wall clock counts other programs' turns too.
  const cpuMs = (used.user + used.system) / 1000 / steps;
  console.log(`\n${label}: ${wall.toFixed(0)} ms per step, ${cpuMs.toFixed(0)} ms of processor time (batch ${batch})`);
  for (const [name, t] of rows)
    console.log(
      `  ${name.padEnd(36)} ${(t.ms / steps).toFixed(1).padStart(8)} ms/step  ${String(t.calls / steps).padStart(5)} calls/step`,
    );
}

/** The seed article's CNN: conv 32 3×3 relu → max-pool 2 → flatten → dense 256 relu → dropout 0.5 → dense 10 softmax. */
function seedCnn(): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1] });
  let h = tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 256, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dropout({ rate: 0.5 }).apply(h) as tf.SymbolicTensor;
  return tf.model({
    inputs: input,
    outputs: tf.layers.dense({ units: 10, activation: 'softmax' }).apply(h) as tf.SymbolicTensor,
  });
}
// Real digits, not random tensors: images mostly zero, and ties among the maxima after the ReLU, as in training.
const digits = parseIdx(readFileSync(mnistFiles().train.images));
const digitLabels = parseIdx(readFileSync(mnistFiles().train.labels));
const digitBatch = (i: number): [tf.Tensor4D, tf.Tensor2D] =>
  tf.tidy(() => {
    const from = (i * 32) % 59_968;
    const pixels = Float32Array.from(digits.data.subarray(from * 784, (from + 32) * 784), (v) => v / 255);
    const labels = tf.tensor1d(Int32Array.from(digitLabels.data.subarray(from, from + 32)), 'int32');
    return [tf.tensor4d(pixels, [32, 28, 28, 1]), tf.oneHot(labels, 10).toFloat() as tf.Tensor2D];
  });
const seed = seedCnn();
const seedAdam = createOptimizer({ name: 'adam' } as Parameters<typeof createOptimizer>[0], 1e-3);
profile(
  "the seed article's CNN on the MNIST digits, Adam as tlpipe makes it",
  (i) => {
    const [x, y] = digitBatch(i);
    const variables = seed.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.metrics.categoricalCrossentropy(y, seed.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
      variables,
    );
    seedAdam.applyGradients(grads);
    tf.dispose([x, y, value, grads]);
  },
  32,
  60,
);

const cnn = smallCnn();
const x28 = tf.randomUniform([64, 28, 28, 1]);
const y64 = tf.oneHot(tf.randomUniform([64], 0, 10, 'int32'), 10).toFloat();
const adam = tf.train.adam(1e-3);
profile('small CNN from scratch, 28×28', () => trainStep(cnn, adam, x28, y64), 64, 5);

const base = await buildBase(loadZooArtifacts('mobilenet_v2'), 'out_relu', [96, 96, 3]);
const tuned = await topBlocksTuned(base);
const x = tf.randomUniform([32, 96, 96, 3]);
const y = tf.oneHot(tf.randomUniform([32], 0, 10, 'int32'), 10).toFloat();
const adam2 = tf.train.adam(1e-4);
profile(
  'MobileNetV2, top 3 blocks fine-tuned, 96×96, the whole model',
  () => trainStep(tuned.whole, adam2, x, y),
  32,
  3,
);
const cache = new Map<tf.Tensor, tf.Tensor>();
profile(
  `the same above the frozen prefix (to ${tuned.split?.boundary}), on its stored output`,
  () => fineTuneStep(tuned, adam2, x, y, 'cached', cache),
  32,
  5,
);
const pixels = tf.randomUniform([32, 96, 96, 3], 0, 255) as tf.Tensor4D;
profile(
  'the same with augmentation: the folded prefix first, outside the tape',
  () => {
    const batch = augmentedBatch(pixels);
    fineTuneStep(tuned, adam2, batch, y, 'augmented', cache);
    batch.dispose();
  },
  32,
  3,
);
