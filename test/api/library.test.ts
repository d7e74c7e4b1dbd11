import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import {
  compare,
  describeData,
  evaluate,
  listRuns,
  loadModel,
  modelFiles,
  plan,
  planSweep,
  predict,
  report,
  resume,
  run,
  sweep,
  validate,
  type PipelineFile,
  type RunEvent,
} from '../../src/api/index.js';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { epochRows, workspace } from '../e2e/cli-harness.js';

/** A small two-stage pipeline on real digits: a head on the frozen base, then the top block fine-tuned. */
const PIPELINE: PipelineFile = {
  name: 'lib',
  seed: 5,
  backend: 'wasm',
  dataset: { format: 'mnist', limit: { perClass: 6, testPerClass: 2 }, image: { size: [32, 32] } },
  base: { cut: 'block_2_add' },
  head: [
    { globalAveragePooling2d: {} },
    { dense: { units: 16, activation: 'relu' } },
    { dense: { units: 'classes', activation: 'softmax' } },
  ],
  train: {
    batchSize: 10,
    stages: [
      { name: 'head', epochs: 2, optimizer: { learningRate: 0.01 } },
      { name: 'tune', epochs: 2, unfreeze: ['block_2_*'], optimizer: { learningRate: 0.001 } },
    ],
  },
};

/** Everything written to stdout and stderr while `work` runs: the library must write nothing. */
async function silently<T>(work: () => Promise<T>): Promise<{ value: T; printed: string }> {
  // Saved to be put back as they were, never called detached.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const [out, err] = [process.stdout.write, process.stderr.write];
  let printed = '';
  // The test runner reports through stdout in binary frames; what a library prints is text.
  const capture = (write: typeof process.stdout.write) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk === 'string') printed += chunk;
      else return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture(out.bind(process.stdout));
  process.stderr.write = capture(err.bind(process.stderr));
  try {
    return { value: await work(), printed };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

describe('the library API', { concurrency: false }, () => {
  const dir = workspace('api');
  const runsDir = path.join(dir, 'runs');
  const at = path.join(dir, 'lib.yaml');
  let firstDir = '';

  it('runs an in-memory pipeline with overrides, printing nothing; run-start is the first event and run-end the last', async () => {
    const events: RunEvent[] = [];
    const { value: result, printed } = await silently(() =>
      run(
        { pipeline: PIPELINE, path: at },
        { runsDir, noCache: true, overrides: { 'train.stages[1].epochs': 1 }, onEvent: (e) => events.push(e) },
      ),
    );
    assert.equal(printed, '');
    assert.ok(result.ok, JSON.stringify(result.diagnostics));
    firstDir = result.value.dir;
    assert.equal(events[0]!.type, 'run-start');
    assert.equal(events.at(-1)!.type, 'run-end');
    assert.equal(events.filter((e) => e.type === 'epoch-end').length, 3);
    const end = events.at(-1)!;
    assert.ok(
      end.type === 'run-end' &&
        end.status === 'completed' &&
        end.test?.accuracy === result.value.summary!.test!.accuracy,
    );
    assert.deepEqual(result.value.record.overrides, { 'train.stages[1].epochs': 1 });
    assert.deepEqual(
      JSON.parse(readFileSync(path.join(result.value.dir, 'summary.json'), 'utf8')),
      result.value.summary,
    );
    // The run's pipeline.yaml is the pipeline as it ran: the override applied.
    assert.match(readFileSync(path.join(result.value.dir, 'pipeline.yaml'), 'utf8'), /name: tune\n\s+epochs: 1/);
  });

  it('returns problems as data: an invalid override, a missing file, an unknown run', async () => {
    const bad = await run({ pipeline: PIPELINE, path: at }, { runsDir, overrides: { 'train.stages[0].epochs': 0 } });
    assert.equal(bad.ok, false);
    assert.equal(bad.diagnostics[0]!.file, 'override train.stages[0].epochs=0');
    assert.match(bad.diagnostics[0]!.message, /must be >= 1, got 0/);
    const missing = await run(path.join(dir, 'nope.yaml'), { runsDir });
    assert.deepEqual([missing.ok, missing.diagnostics[0]!.message], [false, 'no such file']);
    for (const outcome of [
      await resume('lib/0099', { runsDir }),
      await evaluate('lib/0099', { runsDir }),
      await loadModel(dir, { runsDir }),
    ]) {
      assert.equal(outcome.ok, false);
      assert.match(outcome.diagnostics[0]!.message, /no run|not a run folder/);
    }
  });

  it('validates and plans YAML text without running anything', async () => {
    const text = readFileSync(path.join(firstDir, 'pipeline.yaml'), 'utf8');
    const valid = await validate({ yaml: text, path: at });
    assert.ok(valid.ok);
    assert.equal(valid.value.train.stages[1]!.epochs, 1);
    const planned = await plan({ yaml: text, path: at }, { runsDir });
    assert.ok(planned.ok, JSON.stringify(planned.diagnostics));
    assert.deepEqual(
      planned.value.tasks.map((t) => t.kind),
      ['data', 'base', 'head', 'features', 'train', 'features', 'train', 'evaluate', 'export'],
    );
    const data = await describeData({ yaml: text, path: at });
    assert.ok(data.ok);
    assert.deepEqual(data.value.counts.test, Array(10).fill(2));
  });

  it('a run stopped through its AbortSignal ends interrupted; resume finishes it as an uninterrupted run would', async () => {
    const controller = new AbortController();
    const stopped = await run(
      { pipeline: PIPELINE, path: at },
      {
        runsDir,
        noCache: true,
        onEvent: (e) => {
          if (e.type === 'epoch-end' && e.metrics.epoch === 3) controller.abort();
        },
        signal: controller.signal,
      },
    );
    assert.equal(stopped.ok, false);
    assert.equal(stopped.value?.status, 'interrupted');
    const resumed = await resume(stopped.value!.dir, { runsDir, noCache: true });
    assert.ok(resumed.ok, JSON.stringify(resumed.diagnostics));
    const whole = await run({ pipeline: PIPELINE, path: at }, { runsDir, noCache: true });
    assert.ok(whole.ok);
    assert.deepEqual(epochRows(resumed.value.dir), epochRows(whole.value.dir));
    assert.deepEqual(resumed.value.summary!.test, whole.value.summary!.test);
  });

  it('lists, compares and reports runs', async () => {
    const runs = await listRuns({ runsDir });
    assert.ok(runs.ok);
    assert.deepEqual(
      runs.value.map((r) => r.status),
      ['completed', 'completed', 'completed'],
    );
    const compared = await compare(['lib/0001', 'lib/0003'], { runsDir });
    assert.ok(compared.ok);
    assert.deepEqual(compared.value.config, [{ path: 'train.stages[1].epochs', values: [1, 2] }]);
    assert.equal(compared.value.complete, true);
    const page = await report(['lib/0001', 'lib/0003'], { runsDir, out: path.join(dir, 'compare.html') });
    assert.ok(page.ok);
    assert.match(readFileSync(page.value.file, 'utf8'), /<svg/);
  });

  it('loadModel classifies as predict does, and plain tfjs loads the export through modelFiles', async () => {
    const images = path.join(dir, 'images');
    mkdirSync(images, { recursive: true });
    const digits = readFileSync(mnistFiles().test.images).subarray(16);
    for (let i = 0; i < 3; i++)
      await sharp(Buffer.from(digits.subarray(i * 784, (i + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(path.join(images, `d${i}.png`));
    const loaded = await loadModel('lib/0001', { runsDir });
    assert.ok(loaded.ok, JSON.stringify(loaded.diagnostics));
    const classified = await loaded.value.classify([images], { top: 3 });
    const predicted = await predict('lib/0001', [images], { runsDir, top: 3 });
    assert.ok(predicted.ok);
    assert.deepEqual(classified, { predictions: predicted.value, failures: [] });
    const x = await loaded.value.preprocess([path.join(images, 'd0.png')]);
    const plain = await tf.loadLayersModel(modelFiles(path.join(firstDir, 'model')));
    const [a, b] = [loaded.value.model.predict(x) as tf.Tensor, plain.predict(x) as tf.Tensor];
    assert.deepEqual(await a.array(), await b.array());
    assert.equal(
      classified.predictions[0]!.top[0]!.probability,
      ((await b.array()) as number[][])[0]!.reduce((m, v) => Math.max(m, v), 0),
    );
    tf.dispose([x, a, b]);
    plain.dispose();
    loaded.value.dispose();
  });

  it('plans and runs a sweep given as an object: trials, events, the best trial, nothing printed', async () => {
    const pipeline = {
      name: 'api-sweep',
      seed: 3,
      dataset: {
        format: 'mnist',
        limit: { perClass: 6, testPerClass: 2 },
        validation: 0.25,
        image: { size: [32, 32] },
      },
      base: { model: 'mobilenet_v2', cut: 'block_6_expand_relu' },
      head: [{ globalAveragePooling2d: {} }, { dense: { units: 'classes', activation: 'softmax' } }],
      train: { batchSize: 16, stages: [{ name: 'head', epochs: 1 }] },
      sweep: { parameters: { 'train.stages[0].optimizer.learningRate': { values: [0.001, 0.01] } } },
    };
    const planned = await planSweep({ pipeline, path: path.join(dir, 'api-sweep.yaml') }, { runsDir });
    assert.ok(planned.ok, JSON.stringify(planned.diagnostics));
    assert.deepEqual(
      planned.value.trials.map((t) => t.values),
      [{ 'train.stages[0].optimizer.learningRate': 0.001 }, { 'train.stages[0].optimizer.learningRate': 0.01 }],
    );
    const types: string[] = [];
    const { value: result, printed } = await silently(() =>
      sweep(
        { pipeline, path: path.join(dir, 'api-sweep.yaml') },
        { runsDir, jobs: 2, onEvent: (e) => types.push(e.type === 'trial' ? `trial ${e.state.status}` : e.type) },
      ),
    );
    assert.equal(printed, '');
    assert.ok(result.ok, JSON.stringify(result.diagnostics));
    assert.equal(types[0], 'sweep-start');
    assert.equal(types.at(-1), 'sweep-end');
    assert.equal(types.filter((t) => t === 'trial completed').length, 2);
    assert.deepEqual(
      result.value.trials.map((t) => t.status),
      ['completed', 'completed'],
    );
    assert.ok(result.value.record.best && result.value.trials.some((t) => t.run === result.value.record.best!.run));
  });
});
