import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { encodeIdx, parseIdx } from '../../src/engine/data/idx-file.js';
import { selectBackend } from '../../src/engine/kernels/backend.js';
import { fileModelHandler } from '../../src/store/model-folder.js';
import { hasStackTrace, readJson, tlpipe, workspace, write, writeMnistSubsetIdx } from './cli-harness.js';

/** Feature workers on: with 2 of them and ≥256 images, an unadapted base in the workers would compute the features. */
const ENV = { TLPIPE_WORKERS: '2' };
const PER_CLASS = 50;
const CLASSES = 3;

const runDirs = (dir: string, name: string): string[] => {
  const runs = path.join(dir, 'runs', name);
  return readdirSync(runs)
    .filter((n) => !n.startsWith('.'))
    .sort()
    .map((n) => path.join(runs, n));
};

/** An exported model's weights by name, decoded from model.json's manifest and weights.bin. */
function exportedWeights(runDir: string): Map<string, Float32Array> {
  const model = readJson(path.join(runDir, 'model', 'model.json'));
  const bytes = readFileSync(path.join(runDir, 'model', 'weights.bin'));
  const specs = model.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights);
  const named = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), specs);
  return new Map(Object.entries(named).map(([name, t]) => [name, t.dataSync() as Float32Array]));
}

const bitIdentical = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length &&
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const pipeline = (name: string, adapt: string): string => `name: ${name}
seed: 1
backend: wasm
dataset:
  format: idx
  train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }
  test: { images: inverted-test-images-idx3-ubyte.gz, labels: test-labels-idx1-ubyte.gz }
  image: { size: [32, 32] }
base: { cut: block_2_add }
${adapt}head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 2, optimizer: { learningRate: 0.01 } }
`;

/**
 * Real MNIST digits for training (the source domain); the target domain is
 * the same kind of digits inverted (white background), so every batch-norm
 * layer's statistics really differ. The test split is the inverted digits
 * with their labels (to measure what adaptation buys); the unlabelled
 * target images are those inverted digits as PNG files.
 */
async function writeDomains(dir: string): Promise<void> {
  const files = writeMnistSubsetIdx(dir, PER_CLASS, CLASSES);
  const test = parseIdx(readFileSync(files.test.images));
  const inverted = Uint8Array.from(test.data, (v) => 255 - v);
  writeFileSync(path.join(dir, 'inverted-test-images-idx3-ubyte.gz'), gzipSync(encodeIdx(test.shape, inverted)));
  const [count, h, w] = test.shape as [number, number, number];
  mkdirSync(path.join(dir, 'target', 'scans'), { recursive: true });
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.from(inverted.subarray(i * h * w, (i + 1) * h * w));
    await sharp(pixels, { raw: { width: w, height: h, channels: 1 } })
      .png()
      .toFile(path.join(dir, 'target', i % 2 ? 'scans' : '', `${i}.png`));
  }
}

describe('adapt.method: adabn, end to end', () => {
  const dir = workspace('adabn');
  let plain: string;
  let adapted: string;
  let summary: any;

  before(async () => {
    await selectBackend('cpu');
    await writeDomains(dir);
    write(dir, 'plain.yaml', pipeline('plain', ''));
    write(dir, 'adabn.yaml', pipeline('adabn', 'adapt: { images: target, method: adabn }\n'));
    for (const name of ['plain', 'adabn']) {
      const run = await tlpipe(['run', `${name}.yaml`], dir, ENV);
      assert.equal(run.code, 0, run.stderr);
    }
    plain = runDirs(dir, 'plain')[0]!;
    adapted = runDirs(dir, 'adabn')[0]!;
    summary = readJson(path.join(adapted, 'summary.json'));
  });

  it('plan says what adapts, on how many training and target images, and chains every later task through it', async () => {
    const plan = await tlpipe(['plan', 'adabn.yaml'], dir, ENV);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(
      plan.stdout.replace(/\n\s+/g, ' '),
      /adapt: AdaBN, each domain with its own statistics: 9 batch-norm layers re-estimated on the 135 training images \(the head trains with them\), then on the 150 target images \(adapt\.images\) for the evaluation and the exported model/,
    );
    const tasks = readJson(path.join(adapted, 'plan.json')).tasks as { id: string; dependsOn: string[] }[];
    assert.deepEqual(tasks.find((t) => t.id === 'head')!.dependsOn, ['adapt']);
    // The target's pass comes after the last stage, and what evaluates and exports reads the model from it.
    const lastStage = tasks.filter((t) => t.id.startsWith('train:')).at(-1)!;
    assert.deepEqual(tasks.find((t) => t.id === 'adapt:target')!.dependsOn, [lastStage.id]);
    assert.deepEqual(tasks.find((t) => t.id === 'export')!.dependsOn, ['adapt:target']);
    const features = tasks.find((t) => t.id.startsWith('features:')) as unknown as {
      pristine: boolean;
      dependsOn: string[];
    };
    assert.deepEqual([features.pristine, features.dependsOn], [false, ['data', 'adapt']]);
  });

  it('summary.json, the report and the run log say what adapted', () => {
    assert.deepEqual(
      { ...summary.adapt, seconds: typeof summary.adapt.seconds },
      { method: 'adabn', images: PER_CLASS * CLASSES, batchNormLayers: 9, seconds: 'number' },
    );
    assert.match(
      readFileSync(path.join(adapted, 'log.txt'), 'utf8'),
      /adapt: AdaBN re-estimated 9 batch-norm layers' statistics on 135 training images, which the head trains with in[\s\S]*adapt: AdaBN re-estimated 9 batch-norm layers' statistics on 150 target images for the evaluation and the export in/,
    );
    assert.match(
      readFileSync(path.join(adapted, 'report.html'), 'utf8'),
      /AdaBN: 9 batch-norm layers&#39; statistics re-estimated on the training images for training and on 150 target images for the evaluation and the export/,
    );
  });

  it('changes only the moving statistics: every other base weight is bit-identical to a run without adapt', () => {
    const without = exportedWeights(plain);
    const withAdaBN = exportedWeights(adapted);
    assert.deepEqual([...withAdaBN.keys()].sort(), [...without.keys()].sort());
    const moving = [...withAdaBN.keys()].filter((n) => /moving_(mean|variance)$/.test(n));
    assert.equal(moving.length, 18);
    for (const [name, values] of withAdaBN) {
      const same = bitIdentical(values, without.get(name)!);
      // The head learns on other features, so its weights differ; nothing else of the base may.
      if (moving.includes(name)) assert.ok(!same, `${name} kept the base's statistics`);
      else if (!name.startsWith('head_')) assert.ok(same, `${name} changed`);
    }
  });

  it('the exported, reloaded model predicts what the run measured: tlpipe evaluate equals summary.json', async () => {
    // The run's test metrics come from features; evaluate runs the exported model on the images. Features
    // computed by workers with the base's own statistics would give other numbers.
    const evaluated = await tlpipe(['evaluate', adapted, '--json'], dir, ENV);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const metrics = JSON.parse(evaluated.stdout);
    assert.equal(metrics.accuracy, summary.test.accuracy);
    assert.deepEqual(metrics.confusionMatrix, summary.test.confusionMatrix);
    assert.ok(Math.abs(metrics.loss - summary.test.loss) < 1e-5, `${metrics.loss} vs ${summary.test.loss}`);
    const without = readJson(path.join(plain, 'summary.json')).test.accuracy;
    console.log(`inverted-digit test accuracy: without adapt ${without}, with AdaBN ${summary.test.accuracy}`);
  });

  it('a run again with the stage cache reads the adapted statistics and exports the same weights', async () => {
    const again = await tlpipe(['run', 'adabn.yaml'], dir, ENV);
    assert.equal(again.code, 0, again.stderr);
    const second = runDirs(dir, 'adabn').pop()!;
    assert.notEqual(second, adapted);
    assert.match(
      readFileSync(path.join(second, 'log.txt'), 'utf8'),
      /statistics on 150 target images for the evaluation and the export \(from the stage cache\)/,
    );
    assert.ok(
      readFileSync(path.join(second, 'model', 'weights.bin')).equals(
        readFileSync(path.join(adapted, 'model', 'weights.bin')),
      ),
    );
  });

  it('a base with no batch norm below the cut: an error at adapt.method, with a hint', async () => {
    const conv = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [32, 32, 3], filters: 4, kernelSize: 3, name: 'conv', activation: 'relu' }),
        tf.layers.flatten({ name: 'flat' }),
      ],
    });
    await conv.save(fileModelHandler(path.join(dir, 'nobn')));
    write(
      dir,
      'nobn.yaml',
      pipeline('nobn', 'adapt: { images: target, method: adabn }\n').replace(
        'base: { cut: block_2_add }',
        'base: { model: nobn/model.json, cut: conv }',
      ),
    );
    const plan = await tlpipe(['plan', 'nobn.yaml'], dir, ENV);
    assert.equal(plan.code, 1);
    assert.ok(!hasStackTrace(plan.stderr), plan.stderr);
    assert.match(
      plan.stderr,
      /^nobn\.yaml:10:\d+: error: adapt\.method: AdaBN re-estimates batch-norm statistics, but nobn\/model\.json has no BatchNormalization layer below the cut conv: AdaBN has nothing to adapt/m,
    );
    assert.match(plan.stderr, /hint: .*method: coral.*method: dann/);
  });
});
