import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/kernels/backend.js';
import { readDataset } from '../../src/engine/data/datasets.js';
import { imageBatch, type ImagePreprocessing } from '../../src/engine/data/preprocess.js';
import { fileModelHandler } from '../../src/store/model-folder.js';
import { hasStackTrace, readJson, tlpipe, workspace, write, writeMnistSubsetIdx } from './cli-harness.js';

const TINY = `name: tiny
seed: 7
backend: wasm
dataset:
  format: mnist
  limit: { perClass: 8, testPerClass: 4 }
  validation: 0.25
  image: { size: [32, 32] }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 16, activation: relu }
  - dropout: { rate: 0.2 }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 8
  stages:
    - name: head
      epochs: 2
      optimizer: { name: adam, learningRate: 0.01 }
    - name: more
      epochs: 1
      optimizer: { name: sgd, learningRate: 0.01, momentum: 0.9 }
`;

describe('tlpipe run on real MNIST digits and real MobileNetV2 weights', () => {
  const dir = workspace('run');
  const pipeline = write(dir, 'tiny.yaml', TINY);
  let runDir = '';
  let result: Awaited<ReturnType<typeof tlpipe>>;

  before(async () => {
    result = await tlpipe(['run', pipeline], dir);
    const runs = path.join(dir, 'runs', 'tiny');
    runDir = path.join(runs, readdirSync(runs).find((name) => /^0001-[0-9a-f]{8}$/.test(name)) ?? 'missing');
  });

  it('exits 0 and says where the run went and how it scored', () => {
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /completed runs\/tiny\/0001-[0-9a-f]{8} in [\d.]+s on wasm: test accuracy [01]\.\d{4}/);
    assert.equal(hasStackTrace(result.stderr), false);
  });

  it('writes the run directory as DESIGN.md lays it out', () => {
    for (const file of [
      'pipeline.yaml',
      'resolved.json',
      'plan.json',
      'run.json',
      'metrics.jsonl',
      'summary.json',
      'report.html',
      'log.txt',
      'model/model.json',
      'model/weights.bin',
      'model/labels.json',
      'model/preprocessing.json',
    ]) {
      assert.ok(existsSync(path.join(runDir, file)), `missing ${file}`);
    }
    assert.equal(readFileSync(path.join(runDir, 'pipeline.yaml'), 'utf8'), TINY);
    assert.deepEqual(
      readdirSync(runDir).filter((f) => f.endsWith('.tmp')),
      [],
      'temporary files left behind',
    );
  });

  it('names the directory by the plan fingerprint and records a completed run', () => {
    const plan = readJson(path.join(runDir, 'plan.json'));
    const run = readJson(path.join(runDir, 'run.json'));
    assert.equal(path.basename(runDir), `0001-${plan.fingerprint.slice(0, 8)}`);
    assert.equal(run.status, 'completed');
    assert.equal(run.backend, 'wasm');
    assert.equal(run.seed, 7);
    assert.equal(run.versions.tfjs, '4.22.0');
    assert.ok(Date.parse(run.endedAt) >= Date.parse(run.startedAt));
  });

  it('writes one metrics line per epoch, numbered across stages', () => {
    const rows = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((r) => [r.stage, r.epoch, r.stageEpoch]),
      [
        ['head', 1, 1],
        ['head', 2, 2],
        ['more', 3, 1],
      ],
    );
    for (const r of rows) {
      for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'seconds'])
        assert.equal(typeof r[key], 'number', key);
    }
    assert.deepEqual(
      rows.map((r) => r.lr),
      [0.01, 0.01, 0.01],
    );
    // No leaks: as many live tensors after every epoch of a stage; the next stage holds no more
    // (its optimizer's state replaces the last one's: sgd with momentum keeps fewer than adam).
    assert.ok(rows[0].tensors > 0);
    assert.equal(rows[1].tensors, rows[0].tensors);
    assert.ok(rows[2].tensors <= rows[1].tensors, rows.map((r) => r.tensors).join(', '));
  });

  it('summarises stages and the test split with per-class metrics and a confusion matrix', () => {
    const summary = readJson(path.join(runDir, 'summary.json'));
    assert.equal(summary.status, 'completed');
    assert.equal(summary.backend, 'wasm');
    assert.deepEqual(
      summary.stages.map((s: any) => [s.name, s.epochsRun]),
      [
        ['head', 2],
        ['more', 1],
      ],
    );
    for (const s of summary.stages) assert.equal(s.stoppedEarly, false);
    assert.equal(summary.test.examples, 40);
    assert.equal(Object.keys(summary.test.perClass).length, 10);
    assert.deepEqual(Object.keys(summary.test.perClass['3']).sort(), [
      'auroc',
      'averagePrecision',
      'f1',
      'precision',
      'recall',
      'support',
    ]);
    // Every class has test examples here, so each one-vs-rest ranking is defined.
    for (const m of Object.values<{ auroc: number; averagePrecision: number }>(summary.test.perClass))
      for (const v of [m.auroc, m.averagePrecision]) assert.ok(v >= 0 && v <= 1, String(v));
    const { ece, bins } = summary.test.calibration;
    assert.ok(ece >= 0 && ece <= 1, String(ece));
    assert.equal(bins.length, 10);
    assert.equal(
      bins.reduce((n: number, b: { count: number }) => n + b.count, 0),
      40,
    );
    const matrix: number[][] = summary.test.confusionMatrix;
    assert.equal(matrix.length, 10);
    assert.equal(
      matrix.flat().reduce((a, b) => a + b, 0),
      40,
    );
    assert.equal(matrix.reduce((sum, row, i) => sum + row[i]!, 0) / 40, summary.test.accuracy);
    assert.equal(summary.export.verified, true);
    assert.equal(summary.test.topK.top1, summary.test.accuracy);
    assert.ok(summary.test.topK.top5 >= summary.test.topK.top1);
    const misclassified = 40 - matrix.reduce((sum, row, i) => sum + row[i]!, 0);
    assert.equal(summary.test.worst.length, Math.min(20, misclassified));
    for (const w of summary.test.worst) assert.notEqual(w.actual, w.predicted);
    assert.match(summary.test.worst[0].example, /^test\[\d+\]$/);
    const csv = readFileSync(path.join(runDir, 'confusion-matrix.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 11);
    assert.deepEqual(csv[1]!.split(',').slice(1).map(Number), matrix[0]);
  });

  it('checkpoints every epoch with optimizer and trainer state, and indexes the latest and the best', () => {
    for (const dir of ['epoch-001', 'epoch-002', 'epoch-003']) {
      for (const file of ['model.json', 'weights.bin', 'optimizer.bin', 'trainer-state.json']) {
        assert.ok(existsSync(path.join(runDir, 'checkpoints', dir, file)), `missing checkpoints/${dir}/${file}`);
      }
    }
    const state = readJson(path.join(runDir, 'checkpoints/epoch-003/trainer-state.json'));
    assert.deepEqual([state.stage, state.epoch, state.stageState.done, state.model], ['more', 3, true, 'head']);
    assert.deepEqual(
      state.completedStages.map((s: any) => s.name),
      ['head'],
    );
    assert.ok(
      state.random.shuffle > 0 && Object.keys(state.random).some((k) => k.startsWith('dropout/')),
      JSON.stringify(state.random),
    );
    const index = readJson(path.join(runDir, 'checkpoints/index.json'));
    assert.equal(index.latest.dir, 'checkpoints/epoch-003');
    const rows = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const bestLoss = Math.min(...rows.map((r) => r.val_loss));
    assert.deepEqual(
      [index.best.monitor, index.best.value, index.best.epoch],
      ['val_loss', bestLoss, rows.find((r) => r.val_loss === bestLoss).epoch],
    );
  });

  it('the exported model reloads and predicts exactly what the in-memory model predicted', async () => {
    await selectBackend('wasm');
    const probe = readJson(path.join(runDir, 'model/probe.json'));
    const pre: ImagePreprocessing = readJson(path.join(runDir, 'model/preprocessing.json'));
    assert.equal(probe.split, 'test');
    assert.equal(probe.indexes.length, 16);
    const mnist = await readDataset({
      format: 'mnist',
      limit: {},
      validation: 0,
      image: { size: pre.inputSize, channels: 3, fit: 'fill' },
    });
    const model = await tf.loadLayersModel(fileModelHandler(path.join(runDir, 'model')));
    const x = imageBatch(await mnist.test!.pixels(probe.indexes), pre);
    const predicted = (model.predict(x) as tf.Tensor).arraySync();
    assert.deepEqual(predicted, probe.predictions);
    assert.deepEqual(readJson(path.join(runDir, 'model/labels.json')), [
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);
  });

  it('loads over HTTP the way a browser does (tf.loadLayersModel on a URL) and predicts the probe outputs', async () => {
    // Only relative weight paths and core layer classes: nothing in model.json needs Node or tlpipe.
    const modelJson = readJson(path.join(runDir, 'model/model.json'));
    assert.deepEqual(
      modelJson.weightsManifest.map((g: { paths: string[] }) => g.paths),
      [['./weights.bin']],
    );
    const server = createServer((req, res) => {
      const file = path.join(runDir, 'model', path.basename(req.url ?? ''));
      if (!existsSync(file)) return void res.writeHead(404).end();
      res
        .writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream' })
        .end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await selectBackend('wasm');
      const { port } = server.address() as AddressInfo;
      const model = await tf.loadLayersModel(`http://127.0.0.1:${port}/model.json`);
      const probe = readJson(path.join(runDir, 'model/probe.json'));
      const pre: ImagePreprocessing = readJson(path.join(runDir, 'model/preprocessing.json'));
      const mnist = await readDataset({
        format: 'mnist',
        limit: {},
        validation: 0,
        image: { size: pre.inputSize, channels: 3, fit: 'fill' },
      });
      assert.deepEqual(
        (model.predict(imageBatch(await mnist.test!.pixels(probe.indexes), pre)) as tf.Tensor).arraySync(),
        probe.predictions,
      );
    } finally {
      server.close();
    }
  });

  it('tlpipe evaluate on the run reproduces its test metrics, and writes JSON and CSV on request', async () => {
    const out = path.join(dir, 'evaluation');
    const r = await tlpipe(['evaluate', runDir, '--json', '--out', out], dir);
    assert.equal(r.code, 0, r.stderr);
    const { on, ...metrics } = JSON.parse(r.stdout);
    assert.equal(on, 'its test split (40 examples)');
    assert.deepEqual(metrics, readJson(path.join(runDir, 'summary.json')).test);
    assert.deepEqual(readJson(path.join(out, 'evaluation.json')).confusionMatrix, metrics.confusionMatrix);
    assert.equal(
      readFileSync(path.join(out, 'confusion-matrix.csv'), 'utf8'),
      readFileSync(path.join(runDir, 'confusion-matrix.csv'), 'utf8'),
    );
    const text = await tlpipe(['evaluate', runDir], dir);
    assert.match(text.stdout, /^accuracy [01]\.\d{4} {2}loss [\d.]+ {2}top-2 [01]\.\d{4}/m);
    assert.match(text.stdout, /^confusion matrix \(rows: actual/m);
  });

  it('report.html is self-contained and shows curves and the confusion matrix', () => {
    const html = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    assert.match(html, /<svg class="chart"/);
    assert.match(html, /<table class="confusion">/);
    assert.match(
      html,
      /<h2>Calibration \(test\)<\/h2><p>Expected calibration error <b>\d\.\d{4}<\/b> over 40 examples/,
    );
    assert.match(html, /<th title="one-vs-rest area under the ROC curve">AUROC<\/th>/);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it('a second run of the same pipeline gets the next number and, with the same seed, the same metrics', async () => {
    const second = await tlpipe(['run', pipeline, '--quiet', '--no-cache'], dir);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /runs\/tiny\/0002-/);
    const secondDir = runDir.replace('/0001-', '/0002-');
    const withoutTimes = (dir: string) =>
      readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => ({ ...JSON.parse(line), seconds: 0 }));
    assert.deepEqual(withoutTimes(secondDir), withoutTimes(runDir));
    assert.deepEqual(
      readJson(path.join(secondDir, 'summary.json')).test,
      readJson(path.join(runDir, 'summary.json')).test,
    );
  });
});

describe('tlpipe run on gzipped IDX files', () => {
  it('trains on IDX files made from real MNIST, with --json events on stdout', async () => {
    const dir = workspace('idx');
    writeMnistSubsetIdx(dir, 6, 3);
    const pipeline = write(
      dir,
      'digits.yaml',
      `dataset:
  format: idx
  train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }
  test: { images: test-images-idx3-ubyte.gz, labels: test-labels-idx1-ubyte.gz }
  classNames: [zero, one, two]
  image: { size: [32, 32] }
base: { cut: block_3_expand_relu }
head:
  - flatten: {}
  - dense: { units: classes, activation: linear }
train:
  stages:
    - { epochs: 1, batchSize: 4 }
`,
    );
    const result = await tlpipe(['run', pipeline, '--json'], dir);
    assert.equal(result.code, 0, result.stderr);
    const events = result.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      [...new Set(events.map((e) => e.type))].filter((t) =>
        ['backend', 'data', 'stage-start', 'epoch-end', 'evaluate-end', 'export-end'].includes(t),
      ),
      ['backend', 'data', 'stage-start', 'epoch-end', 'evaluate-end', 'export-end'],
    );
    const data = events.find((e) => e.type === 'data');
    assert.deepEqual([data.train + data.validation, data.test, data.numClasses], [18, 18, 3]);
    const evaluated = events.find((e) => e.type === 'evaluate-end');
    assert.deepEqual(Object.keys(evaluated.test.perClass), ['zero', 'one', 'two']);
  });
});

describe('machine-readable output', () => {
  const dir = workspace('json');
  write(dir, 'tiny.yaml', TINY);

  it('run --json: stdout is JSON lines only, run-start first (id, folder, fingerprint, backend) and run-end last (status, test metrics, paths)', async () => {
    const r = await tlpipe(['run', 'tiny.yaml', '--json', '--set', 'train.stages[1].epochs=2'], dir);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; [key: string]: unknown });
    const [first, last] = [events[0]!, events.at(-1)!];
    assert.equal(first.type, 'run-start');
    assert.match(String(first['id']), /^0001-[0-9a-f]{8}$/);
    assert.equal(first['backend'], 'wasm');
    assert.ok(existsSync(String(first['dir'])));
    assert.match(String(first['fingerprint']), /^[0-9a-f]{64}$/);
    assert.equal(last.type, 'run-end');
    assert.equal(last['status'], 'completed');
    const summary = readJson(path.join(String(first['dir']), 'summary.json'));
    assert.deepEqual(last['test'], {
      accuracy: summary.test.accuracy,
      loss: summary.test.loss,
      examples: summary.test.examples,
    });
    assert.equal((last['paths'] as { model: string }).model, path.join(String(first['dir']), 'model'));
    assert.equal(events.filter((e) => e.type === 'epoch-end').length, 4);
    // What people read went to stderr.
    assert.match(r.stderr, /^completed runs\/tiny\/0001-/m);
  });

  it('an invalid pipeline under --json: one `invalid` line with the diagnostics, exit 1', async () => {
    const r = await tlpipe(['run', 'tiny.yaml', '--json', '--set', 'seed=-1'], dir);
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const invalid = JSON.parse(lines[0]!) as { type: string; diagnostics: { file: string; message: string }[] };
    assert.equal(invalid.type, 'invalid');
    assert.deepEqual(
      [invalid.diagnostics[0]!.file, invalid.diagnostics[0]!.message],
      ['--set seed=-1', 'must be >= 0, got -1'],
    );
  });

  it('validate --json and plan --json print one JSON document', async () => {
    write(dir, 'bad.yaml', TINY.replace('epochs: 2', 'epochs: 0'));
    const v = await tlpipe(['validate', 'tiny.yaml', 'bad.yaml', '--json'], dir);
    assert.equal(v.code, 1);
    const report = JSON.parse(v.stdout) as {
      files: { file: string; ok: boolean; diagnostics: { line: number; col: number }[] }[];
      valid: number;
      invalid: number;
    };
    assert.deepEqual([report.valid, report.invalid, report.files.map((f) => f.ok)], [1, 1, [true, false]]);
    assert.deepEqual([report.files[1]!.diagnostics[0]!.line, report.files[1]!.diagnostics[0]!.col], [18, 15]);
    const p = await tlpipe(['plan', 'tiny.yaml', '--json'], dir);
    assert.equal(p.code, 0, p.stderr);
    assert.equal((JSON.parse(p.stdout) as { pipeline: string }).pipeline, 'tiny');
  });
});
