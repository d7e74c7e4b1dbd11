import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/kernels/backend.js';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { parseIdx } from '../../src/engine/data/idx-file.js';
import { fileModelHandler } from '../../src/store/model-folder.js';
import {
  hasStackTrace,
  readJson,
  tlpipe,
  workspace,
  write,
  writeDigitImageFolder,
  writeMnistSubsetIdx,
} from './cli-harness.js';

const latestRun = (dir: string, name: string): string => {
  const runs = path.join(dir, 'runs', name);
  return path.join(
    runs,
    readdirSync(runs)
      .filter((n) => !n.startsWith('.'))
      .sort()
      .pop()!,
  );
};

/** Real MNIST digits shrunk to 7×7 = 49 numbers each: a small tabular dataset. */
function digitFeatures(digits: number[], perDigit: number, offset = 0): { rows: number[][]; labels: number[] } {
  const files = mnistFiles();
  const images = parseIdx(readFileSync(files.train.images));
  const labels = parseIdx(readFileSync(files.train.labels));
  const chosen: number[] = [];
  const counts = new Map<number, number>();
  for (let i = offset; i < labels.data.length && chosen.length < digits.length * perDigit; i++) {
    const d = labels.data[i]!;
    if (digits.includes(d) && (counts.get(d) ?? 0) < perDigit) {
      counts.set(d, (counts.get(d) ?? 0) + 1);
      chosen.push(i);
    }
  }
  const rows = tf.tidy(() => {
    const x = tf.tensor4d(
      Float32Array.from(chosen.flatMap((i) => Array.from(images.data.subarray(i * 784, (i + 1) * 784)))),
      [chosen.length, 28, 28, 1],
    );
    return (tf.avgPool(x, 4, 4, 'valid').reshape([chosen.length, 49]).div(255).arraySync() as number[][]).map((r) =>
      r.map((v) => Math.round(v * 1000) / 1000),
    );
  });
  return { rows, labels: chosen.map((i) => labels.data[i]!) };
}

/** A Sequential model.json with one layer `hidden` of class `className`, written by hand as an attacker or a broken exporter might. */
function handWrittenModel(className: string, shapes: number[][], weightsPath = './weights.bin'): string {
  return JSON.stringify({
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 's',
        layers: [{ class_name: className, config: { name: 'hidden', units: 8, batch_input_shape: [null, 49] } }],
      },
    },
    weightsManifest: [
      { paths: [weightsPath], weights: shapes.map((shape) => ({ name: 'hidden/kernel', shape, dtype: 'float32' })) },
    ],
  });
}

describe('a model.json on disk as the base', () => {
  const dir = workspace('bases');

  before(async () => {
    await selectBackend('wasm');
  });

  it('tabular transfer: a dense network pretrained on digits 0–4 is cut and reused for digits 5–9 from a CSV', async () => {
    // Pretrain the source network on the real source task and save it as a user would.
    const source = digitFeatures([0, 1, 2, 3, 4], 40);
    const pretrained = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [49],
          units: 32,
          activation: 'relu',
          name: 'hidden',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        }),
        tf.layers.dense({
          units: 5,
          activation: 'softmax',
          name: 'source_classes',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        }),
      ],
    });
    pretrained.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    await pretrained.fit(tf.tensor2d(source.rows), tf.oneHot(tf.tensor1d(source.labels, 'int32'), 5).toFloat(), {
      epochs: 20,
      batchSize: 32,
      verbose: 0,
      shuffle: false,
    });
    await pretrained.save(fileModelHandler(path.join(dir, 'pretrained')));

    const target = digitFeatures([5, 6, 7, 8, 9], 12, 1000);
    const header = ['digit', ...Array.from({ length: 49 }, (_, i) => `p${i}`)];
    write(
      dir,
      'digits.csv',
      [header.join(','), ...target.rows.map((r, i) => [`d${target.labels[i]}`, ...r].join(','))].join('\n') + '\n',
    );
    write(
      dir,
      'tabular.yaml',
      `name: tabular
dataset:
  format: csv
  file: digits.csv
  labelColumn: digit
  featureColumns: [${header.slice(1).join(', ')}]
  test: 0.25
base:
  model: pretrained/model.json
  cut: hidden
head:
  - dense: { units: 16, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 3, batchSize: 8, optimizer: { learningRate: 0.01 } }
`,
    );
    const plan = await tlpipe(['plan', 'tabular.yaml'], dir);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /pretrained\/model.json cut at hidden → 32, frozen/);
    assert.match(plan.stdout, /49 feature columns/);

    const r = await tlpipe(['run', 'tabular.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    const run = latestRun(dir, 'tabular');
    const pre = readJson(path.join(run, 'model/preprocessing.json'));
    assert.equal(pre.kind, 'tabular');
    assert.equal(pre.columns.length, 49);
    assert.deepEqual(readJson(path.join(run, 'model/labels.json')), ['d5', 'd6', 'd7', 'd8', 'd9']);
    assert.equal(readJson(path.join(run, 'summary.json')).test.examples, 15);

    // The pretrained hidden layer is in the exported model, unchanged: the base stayed frozen.
    const exported = await tf.loadLayersModel(fileModelHandler(path.join(run, 'model')));
    const before = pretrained
      .getLayer('hidden')
      .getWeights()
      .map((w) => Array.from(w.dataSync()));
    const after = exported
      .getLayer('hidden')
      .getWeights()
      .map((w) => Array.from(w.dataSync()));
    assert.deepEqual(after, before);
  });

  it("chained transfer: another run's exported model, cut below its head, is the base of a new pipeline", async () => {
    write(
      dir,
      'first.yaml',
      `name: first
dataset:
  format: mnist
  limit: { perClass: 6, testPerClass: 2 }
  image: { size: [32, 32] }
base: { cut: block_3_expand_relu }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1 }
`,
    );
    assert.equal((await tlpipe(['run', 'first.yaml', '--quiet'], dir)).code, 0);
    const upstream = latestRun(dir, 'first');
    await writeDigitImageFolder(path.join(dir, 'photos'), 4);
    write(
      dir,
      'second.yaml',
      `name: second
dataset:
  format: imageFolder
  dir: photos
  test: 0.25
  image: { size: [32, 32] }
base:
  model: run:first
  cut: block_2_add
head:
  - globalMaxPooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1, batchSize: 4 }
`,
    );
    const r = await tlpipe(['run', 'second.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /base run:first cut at block_2_add: \d+ layers/);
    const second = latestRun(dir, 'second');
    assert.deepEqual(readJson(path.join(second, 'summary.json')).classes, ['one', 'seven', 'zero']);
    // The chained run records which run it built on.
    const first = readJson(path.join(upstream, 'run.json'));
    assert.deepEqual(readJson(path.join(second, 'run.json')).upstream, {
      pipeline: 'first',
      run: first.id,
      fingerprint: first.fingerprint,
    });
    assert.equal(readJson(path.join(second, 'plan.json')).base.upstream.id, first.id);
    // A reference to a run that does not exist is a clear error.
    write(
      dir,
      'third.yaml',
      readFileSync(path.join(dir, 'second.yaml'), 'utf8')
        .replace('run:first', 'run:first/0042')
        .replace('name: second', 'name: third'),
    );
    const missing = await tlpipe(['plan', 'third.yaml'], dir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^third.yaml:8:10: error: base.model: no run first\/0042 in .*runs$/m);
  });

  it('a small CNN trained from scratch (base: none) on gray IDX digits becomes the frozen base of a photo-folder pipeline, fed gray', async () => {
    mkdirSync(path.join(dir, 'idx'));
    writeMnistSubsetIdx(path.join(dir, 'idx'), 30, 10);
    write(
      dir,
      'cnn.yaml',
      `name: cnn
dataset:
  format: idx
  train: { images: idx/train-images-idx3-ubyte.gz, labels: idx/train-labels-idx1-ubyte.gz }
  test: { images: idx/test-images-idx3-ubyte.gz, labels: idx/test-labels-idx1-ubyte.gz }
  image: { size: [28, 28], channels: 1 }
base: { model: none }
head:
  - conv2d: { filters: 8, kernelSize: 3, activation: relu, kernelRegularizer: { l2: 0.0001 } }
  - maxPooling2d: {}
  - conv2d: { filters: 16, padding: same, activation: relu }
  - batchNormalization: {}
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 3, batchSize: 16, optimizer: { learningRate: 0.01 } }
`,
    );
    const pretrain = await tlpipe(['run', 'cnn.yaml'], dir);
    assert.equal(pretrain.code, 0, pretrain.stderr);
    const cnn = readJson(path.join(latestRun(dir, 'cnn'), 'plan.json'));
    assert.deepEqual(cnn.stages[0].trainable, 'head');
    assert.ok(cnn.stages[0].trainableParams > 1000, `trainable ${cnn.stages[0].trainableParams}`);
    // One input channel, as the exported model says.
    assert.deepEqual(
      readJson(path.join(latestRun(dir, 'cnn'), 'model', 'model.json')).modelTopology.config.layers[0].config
        .batch_input_shape,
      [null, 28, 28, 1],
    );
    // The report's Grad-CAM reads the head's last convolution: its layers live in two models (head alone, base + head), and the map is of the one that sees images.
    const gallery = readJson(path.join(latestRun(dir, 'cnn'), 'examples.json'));
    assert.equal(gallery.layer, 'head_3_batchNormalization');
    assert.ok(
      gallery.worst.length > 0 && gallery.worst.every((w: { heat?: unknown }) => w.heat),
      'every misclassified example has its maps',
    );
    assert.doesNotMatch(pretrain.stderr, /shows no test images/);

    write(
      dir,
      'transfer.yaml',
      `name: transfer
dataset:
  format: imageFolder
  dir: photos
  test: 0.25
  image: { size: [28, 28] }
base:
  model: run:cnn
  cut: head_2_conv2d
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { name: head, epochs: 2, batchSize: 4 }
    - { name: tune, epochs: 1, batchSize: 4, unfreeze: ["head_2_conv2d"], optimizer: { learningRate: 0.0001 } }
`,
    );
    // RGB into a base that takes gray: refused, saying which key to set.
    const rgb = await tlpipe(['plan', 'transfer.yaml'], dir);
    assert.equal(rgb.code, 1);
    assert.match(
      rgb.stderr,
      /transfer\.yaml:\d+:\d+: error: dataset\.image\.channels: the base takes 1-channel images; the pipeline feeds 3\n[^]*hint: set dataset\.image\.channels: 1/,
    );
    write(
      dir,
      'transfer.yaml',
      readFileSync(path.join(dir, 'transfer.yaml'), 'utf8').replace(
        'image: { size: [28, 28] }',
        'image: { size: [28, 28], channels: 1 }',
      ),
    );
    const r = await tlpipe(['run', 'transfer.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    const transfer = readJson(path.join(latestRun(dir, 'transfer'), 'plan.json'));
    assert.deepEqual(
      transfer.stages.map((s: { trainableBaseLayers: string[] }) => s.trainableBaseLayers),
      [[], ['head_2_conv2d']],
    );
    assert.equal(readJson(path.join(latestRun(dir, 'transfer'), 'run.json')).upstream.pipeline, 'cnn');
  });

  const bad: { name: string; yaml: string; err: RegExp[]; files?: Record<string, string> }[] = [
    {
      name: 'a model.json base without a cut',
      yaml: 'dataset: { format: mnist }\nbase: { model: pretrained/model.json }\nhead:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [/^bad.yaml:2:16: error: base.model: a model.json or run: base needs `cut`/m],
    },
    {
      name: 'a missing model.json',
      yaml: 'dataset: { format: mnist }\nbase: { model: nowhere/model.json, cut: x }\nhead:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [/^bad.yaml:2:16: error: base.model: model file .*nowhere\/model.json: not found$/m],
    },
    {
      name: 'images on a vector base',
      yaml: 'dataset: { format: mnist, limit: { perClass: 2 } }\nbase: { model: pretrained/model.json, cut: hidden }\nhead:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [/^bad.yaml:2:16: error: base.model: the base takes input \[49\], not images \[height, width, channels\]$/m],
    },
    {
      name: 'tabular columns on an image base',
      yaml: 'dataset: { format: csv, file: digits.csv, featureColumns: [p0, p1] }\nhead:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [
        /^bad.yaml:1:43: error: dataset.featureColumns: tabular `featureColumns` need a base whose input is a vector; `mobilenet_v2` takes images$/m,
      ],
    },
    {
      name: 'fewer feature columns than the base takes',
      yaml: 'dataset: { format: csv, file: digits.csv, labelColumn: digit, featureColumns: [p0, p1] }\nbase: { model: pretrained/model.json, cut: hidden }\nhead:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [/error: dataset.featureColumns: the base takes input \[49\], but the dataset has 2 feature columns$/m],
    },
    {
      name: 'pooling on a vector base',
      yaml:
        'dataset: { format: csv, file: digits.csv, labelColumn: digit, featureColumns: [' +
        Array.from({ length: 49 }, (_, i) => `p${i}`).join(', ') +
        '] }\nbase: { model: pretrained/model.json, cut: hidden }\nhead:\n  - globalAveragePooling2d: {}\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [
        /^bad.yaml:4:5: error: head\[0\]: `globalAveragePooling2d` needs a feature map \[height, width, channels\], but the base outputs a vector$/m,
      ],
    },
    {
      name: 'a model.json naming a layer class tfjs does not know (no code is loaded)',
      files: { 'custom/model.json': handWrittenModel('MyCustomLayer', [[49, 8]]), 'custom/weights.bin': '' },
      yaml: 'dataset: { format: mnist }\nbase: { model: custom/model.json, cut: hidden }\nhead:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [
        /^bad.yaml:2:16: error: base.model: .*custom\/model.json: layer `hidden` has class `MyCustomLayer`, which tfjs-layers does not know$/m,
        /custom layers cannot be loaded/,
      ],
    },
    {
      name: 'a model.json with an absurd weight shape',
      files: { 'huge/model.json': handWrittenModel('Dense', [[300000, 100000]]), 'huge/weights.bin': '' },
      yaml: 'dataset: { format: mnist }\nbase: { model: huge/model.json, cut: hidden }\nhead:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [
        /error: base.model: .*huge\/model.json: weight `hidden\/kernel` has 3.00e\+10 elements$/m,
        /up to 268435456 elements/,
      ],
    },
    {
      name: 'a model.json whose weights lie outside its folder',
      files: { 'escape/model.json': handWrittenModel('Dense', [[49, 8]], '../pretrained/weights.bin') },
      yaml: 'dataset: { format: mnist }\nbase: { model: escape/model.json, cut: hidden }\nhead:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [
        /error: base.model: .*escape\/model.json names a weight file outside its folder: ..\/pretrained\/weights.bin$/m,
      ],
    },
    {
      name: 'an unknown cut in a model.json base',
      yaml:
        'dataset: { format: csv, file: digits.csv, labelColumn: digit, featureColumns: [' +
        Array.from({ length: 49 }, (_, i) => `p${i}`).join(', ') +
        '] }\nbase: { model: pretrained/model.json, cut: hiden }\nhead:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n',
      err: [/error: base.cut: the base has no layer named `hiden`$/m, /nearest layer names: hidden/],
    },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, async () => {
      for (const [file, text] of Object.entries(c.files ?? {})) {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), text);
      }
      writeFileSync(path.join(dir, 'bad.yaml'), c.yaml);
      const r = await tlpipe(['run', 'bad.yaml'], dir);
      assert.equal(r.code, 1, r.stderr);
      for (const pattern of c.err) assert.match(r.stderr, pattern);
      assert.equal(hasStackTrace(r.stderr), false);
    });
  }
});
