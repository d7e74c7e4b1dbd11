/**
 * `npm run bench:profile`: where a training step's time goes on the wasm
 * backend, kernel by kernel, for the two cases furthest from PyTorch in
 * `npm run bench` (a small CNN from scratch at 28×28, and the top blocks of
 * MobileNetV2 fine-tuned at 96×96). Prints the kernels by total time.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/engine/kernels/backend.js';
import { buildBase } from '../src/engine/model/build-models.js';
import { smallCnn, topBlocksTuned } from './bench-models.js';
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
    // Nested kernels (composed gradients) count in their caller too; the table says which are which.
    const t = totals.get(name) ?? { ms: 0, calls: 0 };
    t.ms += performance.now() - started;
    t.calls++;
    totals.set(name, t);
  }
};

function profile(label: string, model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, steps: number): void {
  const optimizer = tf.train.adam(1e-3);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = (): void => tf.dispose(optimizer.minimize(() => tf.mean(tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, true, variables) ?? []);
  step();
  totals.clear();
  const started = performance.now();
  for (let i = 0; i < steps; i++) step();
  const wall = (performance.now() - started) / steps;
  const rows = [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10);
  console.log(`\n${label}: ${wall.toFixed(0)} ms per step (batch ${x.shape[0]})`);
  for (const [name, t] of rows) console.log(`  ${name.padEnd(36)} ${(t.ms / steps).toFixed(1).padStart(8)} ms/step  ${String(t.calls / steps).padStart(5)} calls/step`);
}

const cnn = smallCnn();
profile('small CNN from scratch, 28×28', cnn, tf.randomUniform([64, 28, 28, 1]), tf.oneHot(tf.randomUniform([64], 0, 10, 'int32'), 10).toFloat(), 5);

const base = await buildBase(loadZooArtifacts('mobilenet_v2'), 'out_relu', [96, 96, 3]);
const tuned = await topBlocksTuned(base);
profile('MobileNetV2, top 3 blocks fine-tuned, 96×96', tuned, tf.randomUniform([32, 96, 96, 3]), tf.oneHot(tf.randomUniform([32], 0, 10, 'int32'), 10).toFloat(), 3);
