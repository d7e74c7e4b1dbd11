/**
 * `npm run bench:profile`: where a training step's time goes on the wasm
 * backend, kernel by kernel: a small CNN from scratch at 28×28, and the top
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

function profile(label: string, step: () => void, batch: number, steps: number): void {
  step();
  totals.clear();
  const started = performance.now();
  for (let i = 0; i < steps; i++) step();
  const wall = (performance.now() - started) / steps;
  const rows = [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12);
  console.log(`\n${label}: ${wall.toFixed(0)} ms per step (batch ${batch})`);
  for (const [name, t] of rows)
    console.log(
      `  ${name.padEnd(36)} ${(t.ms / steps).toFixed(1).padStart(8)} ms/step  ${String(t.calls / steps).padStart(5)} calls/step`,
    );
}

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
