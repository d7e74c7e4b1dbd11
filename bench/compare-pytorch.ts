/**
 * `npm run bench`: tlpipe's engine (tfjs, wasm backend) and PyTorch on the
 * same cases in one run, on the same model (MobileNetV2 α=1.0; tlpipe's
 * weights from nsfwjs, PyTorch's random — speed does not depend on them),
 * batch 32, random inputs of the same shapes. Prints one JSON report:
 * images per second per case and the ratio tlpipe/PyTorch, the end-to-end
 * frozen-base pipeline (tlpipe run with cached features vs PyTorch's plain
 * loop), and the runner's overhead (tlpipe run vs a hand-written tfjs script
 * doing the same training). PyTorch is found as `python3` with torch
 * (Debian: apt-get install python3-torch python3-torchvision); without it
 * the report has tlpipe's numbers only.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/engine/kernels/backend.js';
import type { SplitData } from '../src/engine/data/datasets.js';
import { FeatureWorkerPool } from '../src/engine/workers/feature-pool.js';
import { foldBatchNorm } from '../src/engine/model/fold-batch-norm.js';
import { buildBase, buildHeadLayers, buildHeadModel, composeModel } from '../src/engine/model/build-models.js';
import { preprocessingFor } from '../src/engine/data/preprocess.js';
import { smallCnn, topBlocksTuned } from './bench-models.js';
import { loadZooArtifacts } from '../src/engine/model/zoo.js';
import { packageRoot } from '../src/package/package-root.js';
import { CLI, readJson, workspace, write } from '../test/e2e/cli-harness.js';

const ITERATIONS = Number(process.env['BENCH_ITERATIONS'] ?? 8);
const E2E = { perClass: 50, epochs: 10 };
const E2E_IMAGES = Math.round(E2E.perClass * 10 * 0.9);

function rate(step: () => void, batch: number, n = ITERATIONS): number {
  step();
  const started = performance.now();
  for (let i = 0; i < n; i++) step();
  return (batch * n) / ((performance.now() - started) / 1000);
}

/** One training step of `model` on (x, y) over `variables`, as tlpipe's loop does it. */
function trainStep(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor): void {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const cost = optimizer.minimize(() => tf.mean(tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, true, variables);
  cost?.dispose();
}

async function tlpipeCases(): Promise<Record<string, number>> {
  await selectBackend('wasm');
  const artifacts = loadZooArtifacts('mobilenet_v2');
  const out: Record<string, number> = {};
  const y32 = tf.oneHot(tf.randomUniform([32], 0, 10, 'int32'), 10).toFloat();
  for (const size of [96, 224]) {
    const base = await buildBase(artifacts, 'out_relu', [size, size, 3]);
    // A frozen base runs as tlpipe runs it for features: batch norm folded into the convolutions.
    const folded = await foldBatchNorm(base);
    const x = tf.randomUniform([32, size, size, 3]);
    out[`inference_${size}`] = rate(() => tf.dispose(folded.predict(x) as tf.Tensor), 32);
    tf.dispose([x]);
    if (size === 96) {
      // Frozen base in the forward pass, the head trained on its pooled output (tlpipe's perBatch mode).
      const layers = buildHeadLayers([{ type: 'globalAveragePooling2d' }, { type: 'dense', units: 128, activation: 'relu', useBias: true }, { type: 'dense', units: 10, activation: 'linear', useBias: true }], 1);
      const extractor = await foldBatchNorm(composeModel(base, layers.slice(0, 1), 'extractor'));
      const head = buildHeadModel(layers.slice(1), [1280]);
      const optimizer = tf.train.adam(1e-3);
      const x96 = tf.randomUniform([32, 96, 96, 3]);
      out['frozen_head_96'] = rate(() => {
        const features = tf.tidy(() => extractor.predict(x96) as tf.Tensor);
        trainStep(head, optimizer, features, y32);
        features.dispose();
      }, 32);
      // The top three blocks and the last 1×1 conv unfrozen (batch norm frozen), full forward and backward.
      const tuned = topBlocksTuned(base);
      const optimizer2 = tf.train.adam(1e-4);
      out['finetune_top3_96'] = rate(() => trainStep(tuned, optimizer2, x96, y32), 32, Math.max(3, Math.floor(ITERATIONS / 2)));
      tf.dispose([x96]);
    }
    base.dispose();
  }
  // Feature extraction as tlpipe runs it: the base in worker threads, one wasm backend each.
  const images = 256;
  const split = {
    labels: new Int32Array(images),
    name: (i: number) => String(i),
    pixels: async (indexes: readonly number[]) => ({ data: new Uint8Array(indexes.length * 96 * 96 * 3).fill(128), count: indexes.length, height: 96, width: 96, channels: 3 as const }),
  } as unknown as SplitData;
  const pre = preprocessingFor({ mean: [0, 0, 0], std: [1, 1, 1], description: 'unit' }, { size: [96, 96], channels: 3, fit: 'fill' });
  for (const workers of [1, 2]) {
    const pool = await FeatureWorkerPool.start(workers, { artifacts, cut: 'out_relu', inputShape: [96, 96, 3], folded: [{ type: 'globalAveragePooling2d' }], pre });
    tf.dispose(await pool.extract(split, [...Array(32).keys()], 32, () => undefined, () => false));
    const started = performance.now();
    tf.dispose(await pool.extract(split, [...Array(images).keys()], 32, () => undefined, () => false));
    out[`features_96_${workers}_worker${workers > 1 ? 's' : ''}`] = images / ((performance.now() - started) / 1000);
    await pool.close();
  }
  const cnn = smallCnn();
  const x28 = tf.randomUniform([64, 28, 28, 1]);
  const y64 = tf.oneHot(tf.randomUniform([64], 0, 10, 'int32'), 10).toFloat();
  const optimizer3 = tf.train.adam(1e-3);
  out['scratch_cnn_28'] = rate(() => trainStep(cnn, optimizer3, x28, y64), 64);
  const headOnly = buildHeadModel(buildHeadLayers([{ type: 'dense', units: 128, activation: 'relu', useBias: true }, { type: 'dense', units: 10, activation: 'linear', useBias: true }], 3), [1280]);
  const features = tf.randomUniform([32, 1280]);
  const optimizer4 = tf.train.adam(1e-3);
  out['head_on_features'] = rate(() => trainStep(headOnly, optimizer4, features, y32), 32, ITERATIONS * 20);
  return out;
}

/** The end-to-end pipeline through the real CLI, wall time, and the same training as a hand-written tfjs script. */
function endToEnd(): { tlpipeSeconds: number; handWrittenSeconds: number } {
  const dir = workspace('bench-e2e');
  write(dir, 'e2e.yaml', `name: e2e
backend: wasm
dataset: { format: mnist, limit: { perClass: ${E2E.perClass}, testPerClass: 10 }, image: { size: [96, 96] } }
base: { cut: out_relu }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 128, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 32
  stages:
    - { name: head, epochs: ${E2E.epochs}, optimizer: { learningRate: 0.001 } }
`);
  const time = (args: string[]): number => {
    const started = performance.now();
    execFileSync(process.execPath, args, { cwd: dir, stdio: 'pipe' });
    return (performance.now() - started) / 1000;
  };
  const tlpipeSeconds = time([CLI, 'run', 'e2e.yaml', '--no-cache', '--quiet']);
  const runs = path.join(dir, 'runs', 'e2e');
  const run = readJson(path.join(runs, readdirSync(runs).find((n) => /^\d{4}-/.test(n))!, 'summary.json'));
  if (run.status !== 'completed') throw new Error('the e2e run did not complete');
  const handWrittenSeconds = time([path.join(packageRoot(), 'dist', 'bench', 'hand-written-tfjs.js'), String(E2E.perClass), String(E2E.epochs)]);
  return { tlpipeSeconds, handWrittenSeconds };
}

function findPython(): string | undefined {
  for (const candidate of [process.env['TLPIPE_PYTHON'], 'python3', '/usr/bin/python3'].filter((c): c is string => !!c)) {
    try {
      execFileSync(candidate, ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const ours = await tlpipeCases();
const e2e = endToEnd();
const python = findPython();
const theirs = python
  ? (JSON.parse(execFileSync(python, [path.join(packageRoot(), 'bench', 'pytorch_cases.py'), JSON.stringify({ iterations: ITERATIONS, e2eImages: E2E_IMAGES, e2eEpochs: E2E.epochs })], { encoding: 'utf8' })) as Record<string, number | string>)
  : undefined;
const round = (n: number): number => Number(n.toPrecision(4));
const cases = Object.fromEntries(Object.entries(ours).map(([name, value]) => {
  // Feature extraction compares with PyTorch's inference at the same size.
  const peer = theirs?.[name.startsWith('features_96') ? 'inference_96' : name];
  return [name, { tlpipeImagesPerSecond: round(value), ...(typeof peer === 'number' ? { pytorchImagesPerSecond: round(peer), ratio: round(value / peer) } : {}) }];
}));
console.log(JSON.stringify({
  machine: { cpus: (await import('node:os')).cpus().length, backend: 'wasm', tfjs: tf.version.tfjs, pytorch: theirs ? `${theirs['torch']} (${theirs['threads']} threads)` : 'not found: apt-get install python3-torch python3-torchvision' },
  batch: 32,
  cases,
  endToEnd: {
    what: `${E2E_IMAGES} training images at 96×96, frozen MobileNetV2, ${E2E.epochs} head epochs`,
    tlpipeRunSeconds: round(e2e.tlpipeSeconds),
    ...(typeof theirs?.['e2e_seconds'] === 'number' ? { pytorchLoopSeconds: round(theirs['e2e_seconds']), ratio: round(e2e.tlpipeSeconds / theirs['e2e_seconds']) } : {}),
  },
  featureWorkersSpeedup: round(ours['features_96_2_workers']! / ours['features_96_1_worker']!),
  runnerOverhead: { tlpipeRunSeconds: round(e2e.tlpipeSeconds), handWrittenTfjsSeconds: round(e2e.handWrittenSeconds), ratio: round(e2e.tlpipeSeconds / e2e.handWrittenSeconds) },
}, null, 2));
