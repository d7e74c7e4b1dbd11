/**
 * The tlpipe side of `npm run bench`'s per-step cases, one process per
 * round: the engine on the wasm backend, batch 32 (64 for the small CNN),
 * real MNIST digits at each shape (peer-data.ts stepInputs: the same
 * batches PyTorch's side times; feature extraction reads the raw digits
 * and resizes them in the workers, as a pipeline does). Each fine-tuning case
 * runs a step the way tlpipe's trainer runs it (bench-models.ts). Prints
 * one JSON object: images per second per case.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/engine/kernels/backend.js';
import { FeatureWorkerPool } from '../src/engine/workers/feature-pool.js';
import { foldBatchNorm } from '../src/engine/model/fold-batch-norm.js';
import { buildBase, buildHeadLayers, buildHeadModel, composeModel } from '../src/engine/model/build-models.js';
import { preprocessingFor } from '../src/engine/data/preprocess.js';
import { augmentedBatch, AUGMENT, fineTuneStep, smallCnn, topBlocksTuned, trainStep } from './bench-models.js';
import { loadZooArtifacts } from '../src/engine/model/zoo.js';
import { readDataset, selectExamples } from '../src/engine/data/datasets.js';
import { stepInputs } from './peer-data.js';

const ITERATIONS = Number(process.env['BENCH_ITERATIONS'] ?? 8);

function rate(step: () => void, batch: number, n = ITERATIONS): number {
  step();
  const started = performance.now();
  for (let i = 0; i < n; i++) step();
  return (batch * n) / ((performance.now() - started) / 1000);
}

async function featureRate(
  artifacts: ReturnType<typeof loadZooArtifacts>,
  size: number,
  workers: number,
  images: number,
): Promise<number> {
  // Real training digits (28×28×1), resized to size×size and repeated into RGB by the workers, as a pipeline's are.
  const mnist = await readDataset({
    format: 'mnist',
    limit: {},
    validation: 0,
    image: { size: [size, size], channels: 3, fit: 'fill' },
  });
  const chosen = selectExamples(mnist, { perClass: Math.ceil(images / 10), validation: 0, seed: 42 }).train;
  const split = {
    ...mnist.train,
    pixels: (rows: readonly number[]) => mnist.train.pixels(rows.map((r) => chosen[r]!)),
  };
  const pre = preprocessingFor(
    { mean: [0, 0, 0], std: [1, 1, 1], description: 'unit' },
    { size: [size, size], channels: 3, fit: 'fill' },
  );
  const pool = await FeatureWorkerPool.start(workers, {
    artifacts,
    cut: 'out_relu',
    inputShape: [size, size, 3],
    folded: [{ type: 'globalAveragePooling2d' }],
    pre,
  });
  try {
    await pool.rows(
      split,
      [...Array(32).keys()],
      32,
      () => undefined,
      () => false,
    );
    const started = performance.now();
    await pool.rows(
      split,
      [...Array(images).keys()],
      32,
      () => undefined,
      () => false,
    );
    return images / ((performance.now() - started) / 1000);
  } finally {
    await pool.close();
  }
}

await selectBackend('wasm');
const artifacts = loadZooArtifacts('mobilenet_v2');
const out: Record<string, number> = {};
/** The real digits' pooled features at 96 (from the frozen case's extractor): the head-only case's input. */
let pooled96: tf.Tensor | undefined;
const real = await stepInputs();
const y32 = tf.oneHot(tf.tensor1d(real.labels32, 'int32'), 10).toFloat();
for (const size of [96, 224]) {
  const base = await buildBase(artifacts, 'out_relu', [size, size, 3]);
  // A frozen base runs as tlpipe runs it for features: batch norm folded into the convolutions.
  const folded = await foldBatchNorm(base);
  const x = size === 96 ? real.x96 : real.x224;
  out[`inference_${size}`] = rate(
    () => tf.dispose(folded.predict(x) as tf.Tensor),
    32,
    size === 224 ? Math.max(2, ITERATIONS / 4) : ITERATIONS,
  );
  if (size === 96) {
    // Frozen base in the forward pass, the head trained on its pooled output (tlpipe's perBatch mode).
    const layers = buildHeadLayers(
      [
        { type: 'globalAveragePooling2d' },
        { type: 'dense', units: 128, activation: 'relu', useBias: true },
        { type: 'dense', units: 10, activation: 'linear', useBias: true },
      ],
      1,
    );
    const extractor = await foldBatchNorm(composeModel(base, layers.slice(0, 1), 'extractor'));
    const head = buildHeadModel(layers.slice(1), [1280]);
    const optimizer = tf.train.adam(1e-3);
    const x96 = real.x96;
    out['frozen_head_96'] = rate(() => {
      const features = tf.tidy(() => extractor.predict(x96) as tf.Tensor);
      trainStep(head, optimizer, features, y32);
      features.dispose();
    }, 32);
    // The top three blocks and the last 1×1 conv unfrozen (batch norm frozen): a step as tlpipe's trainer takes it.
    const tuned = await topBlocksTuned(base);
    const optimizer2 = tf.train.adam(1e-4);
    const steps = Math.max(3, Math.floor(ITERATIONS / 2));
    const cache = new Map<tf.Tensor, tf.Tensor>();
    out['finetune_top3_96'] = rate(() => fineTuneStep(tuned, optimizer2, x96, y32, 'cached', cache), 32, steps);
    // The same with augmentation on (flip, rotate, zoom): the images change every epoch, so the frozen part runs every step.
    const pixels = real.pixels96;
    out['finetune_top3_96_augmented'] = rate(
      () => {
        const batch = augmentedBatch(pixels as tf.Tensor4D);
        fineTuneStep(tuned, optimizer2, batch, y32, 'augmented', cache);
        batch.dispose();
      },
      32,
      steps,
    );
    pooled96 = tf.tidy(() => extractor.predict(x96) as tf.Tensor);
  }
  base.dispose();
}
// Feature extraction as tlpipe runs it: the base in worker threads, one wasm backend each.
out['features_96_1_worker'] = await featureRate(artifacts, 96, 1, 256);
out['features_96_2_workers'] = await featureRate(artifacts, 96, 2, 256);
out['features_224_2_workers'] = await featureRate(artifacts, 224, 2, 64);
const cnn = smallCnn();
const x28 = real.x28;
const y64 = tf.oneHot(tf.tensor1d(real.labels64, 'int32'), 10).toFloat();
const optimizer3 = tf.train.adam(1e-3);
out['scratch_cnn_28'] = rate(() => trainStep(cnn, optimizer3, x28, y64), 64);
const headOnly = buildHeadModel(
  buildHeadLayers(
    [
      { type: 'dense', units: 128, activation: 'relu', useBias: true },
      { type: 'dense', units: 10, activation: 'linear', useBias: true },
    ],
    3,
  ),
  [1280],
);
const optimizer4 = tf.train.adam(1e-3);
out['head_on_features'] = rate(() => trainStep(headOnly, optimizer4, pooled96!, y32), 32, ITERATIONS * 20);
console.log(JSON.stringify({ augment: AUGMENT, cases: out }));
