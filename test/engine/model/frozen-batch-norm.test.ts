import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { readDataset, type LoadedDataset } from '../../../src/engine/data/datasets.js';
import { buildBase, buildHeadLayers, composeModel } from '../../../src/engine/model/build-models.js';
import { imageBatch, oneHotBatch, preprocessingFor } from '../../../src/engine/data/preprocess.js';
import { SeededRandom } from '../../../src/engine/random.js';
import type { BatchSource } from '../../../src/engine/data/batches.js';
import { trainStage } from '../../../src/engine/train/train-stage.js';
import { cutTopology } from '../../../src/engine/model/model-topology.js';
import { loadZooArtifacts } from '../../../src/engine/model/zoo.js';

// Low in MobileNetV2, so the test is quick, but with several BatchNormalization layers.
const CUT = 'block_2_add';
const SIZE: [number, number] = [32, 32];
const EXAMPLES = 48;

let mnist: LoadedDataset;
before(async () => {
  await selectBackend('wasm');
  mnist = await readDataset({
    format: 'mnist',
    limit: {},
    validation: 0,
    image: { size: SIZE, channels: 3, fit: 'fill' },
  });
});

function snapshot(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [w.originalName, (w.read().dataSync() as Float32Array).slice()]));
}

function changedWeights(before: Map<string, Float32Array>, model: tf.LayersModel): string[] {
  const after = snapshot(model);
  return [...before]
    .filter(([name, values]) => !Buffer.from(values.buffer).equals(Buffer.from(after.get(name)!.buffer)))
    .map(([name]) => name);
}

/** Trains base + a small head on real digits with the engine's training loop, base frozen. */
async function trainOnDigits(base: tf.LayersModel): Promise<tf.LayersModel> {
  const pre = preprocessingFor(
    { mean: [0, 0, 0], std: [1, 1, 1], description: 'unit' },
    { size: SIZE, channels: 3, fit: 'fill' },
  );
  const head = buildHeadLayers(
    [{ type: 'globalAveragePooling2d' }, { type: 'dense', units: 10, activation: 'softmax', useBias: true }],
    1,
  );
  const model = composeModel(base, head, 'frozen_bn_test');
  const indexes = Array.from({ length: EXAMPLES }, (_, i) => i);
  const source: BatchSource = {
    count: EXAMPLES,
    batch: async (positions) => ({
      x: imageBatch(await mnist.train.pixels(positions.map((p) => indexes[p]!)), pre),
      y: oneHotBatch(mnist.train.labels, positions, 10),
    }),
  };
  const stage = {
    name: 'head',
    index: 0,
    taskId: 'train:head',
    epochs: 2,
    firstEpoch: 1,
    lastEpoch: 2,
    batchSize: 16,
    optimizer: {
      name: 'adam' as const,
      learningRate: 0.01,
      baseLearningRate: 0.01,
      multipliers: [],
      momentum: 0,
      nesterov: false,
      weightDecay: 0,
    },
    parameterGroups: [{ name: 'head', learningRate: 0.01, head: true, baseLayers: [] }],
    schedule: { type: 'constant' as const },
    classWeights: null,
    labelSmoothing: 0,
    trainable: 'head' as const,
    weights: 'head' as const,
    trainableBaseLayers: [],
    batchNorm: 'frozen' as const,
    trainableParams: 0,
    totalParams: 0,
    fingerprint: '',
  };
  await trainStage(model, stage, { train: source }, 'categoricalCrossentropy', new SeededRandom(1), {
    onEvent: () => undefined,
    onEpochEnd: async () => undefined,
  });
  return model;
}

describe('a frozen base stays frozen while its head trains', () => {
  it('every base weight, BatchNorm moving statistics included, is bit-identical after training', async () => {
    const base = await buildBase(loadZooArtifacts('mobilenet_v2'), CUT, [...SIZE, 3]);
    const movingStats = base.weights.filter((w) => /moving_(mean|variance)/.test(w.originalName));
    assert.ok(
      movingStats.length >= 10,
      `expected BatchNorm moving statistics in the base, found ${movingStats.length}`,
    );
    const baseBefore = snapshot(base);
    const model = await trainOnDigits(base);
    assert.deepEqual(changedWeights(baseBefore, base), []);
    const headKernel = model.getLayer('head_1_dense').getWeights()[0]!;
    assert.ok(headKernel.abs().sum().dataSync()[0]! > 0, 'the head trained');
  });

  it('control: without the fix, tfjs updates the moving statistics of a non-trainable base', async () => {
    // The same base loaded the plain tfjs way: trainable = false only.
    const artifacts = loadZooArtifacts('mobilenet_v2');
    const plain = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: cutTopology(artifacts.modelTopology, CUT, [...SIZE, 3]) as unknown as object,
        weightSpecs: artifacts.weightSpecs,
        weightData: artifacts.weightData,
      }),
      { strict: false },
    );
    for (const layer of plain.layers) layer.trainable = false;
    const before = snapshot(plain);
    await trainOnDigits(plain);
    const changed = changedWeights(before, plain);
    assert.ok(
      changed.length > 0 && changed.every((name) => /moving_(mean|variance)/.test(name)),
      `changed: ${changed.join(', ')}`,
    );
  });
});
