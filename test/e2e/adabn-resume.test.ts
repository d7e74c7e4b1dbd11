import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { parseIdx } from '../../src/engine/data/idx-file.js';
import { readJson, startCli, tlpipe, workspace, write, writeMnistSubsetIdx } from './cli-harness.js';

const PIPELINE = `name: recipe
seed: 3
backend: cpu
dataset:
  format: idx
  train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }
  test: { images: test-images-idx3-ubyte.gz, labels: test-labels-idx1-ubyte.gz }
  image: { size: [32, 32] }
base: { cut: block_2_add }
adapt: { images: target, method: adabn }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { name: head, epochs: 12, batchSize: 4, optimizer: { learningRate: 0.01 } }
`;

const runDirOf = (dir: string): string => {
  const runs = path.join(dir, 'runs', 'recipe');
  return path.join(
    runs,
    readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
  );
};

/** Real MNIST digits, and as the target domain the test digits inverted, as PNG files. */
async function writeWorkspace(dir: string): Promise<void> {
  const files = writeMnistSubsetIdx(dir, 8, 3);
  const test = parseIdx(readFileSync(files.test.images));
  const [count, h, w] = test.shape as [number, number, number];
  mkdirSync(path.join(dir, 'target'));
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.from(test.data.subarray(i * h * w, (i + 1) * h * w)).map((v) => 255 - v);
    await sharp(pixels, { raw: { width: w, height: h, channels: 1 } })
      .png()
      .toFile(path.join(dir, 'target', `${i}.png`));
  }
  write(dir, 'recipe.yaml', PIPELINE);
}

describe('adapt.method: adabn, resumed after a kill', () => {
  const whole = workspace('adabn-whole');
  const killed = workspace('adabn-killed');
  let killedAfter = '';
  let resumedLog = '';

  before(async () => {
    await Promise.all([writeWorkspace(whole), writeWorkspace(killed)]);
    const [uninterrupted] = await Promise.all([
      tlpipe(['run', 'recipe.yaml'], whole),
      (async () => {
        // SIGKILL once the second epoch has ended: the resumed process builds the base afresh, so it must adapt it again.
        const run = startCli(['run', 'recipe.yaml'], killed, {
          onStderr: (stderr, child) => /head epoch 2 /.test(stderr) && !child.killed && child.kill('SIGKILL'),
        });
        await run.exited();
        killedAfter = run.stderr();
      })(),
    ]);
    assert.equal(uninterrupted.code, 0, uninterrupted.stderr);
    assert.match(killedAfter, /head epoch 2 /);
    assert.equal(readJson(path.join(runDirOf(killed), 'run.json')).status, 'running');
    const resumed = await tlpipe(['resume', runDirOf(killed)], killed);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming .* from epoch/);
    resumedLog = resumed.stderr;
  });

  it('ends as the uninterrupted run: the same exported weights (adapted statistics and head) and test metrics', () => {
    const [a, b] = [runDirOf(whole), runDirOf(killed)];
    assert.ok(
      readFileSync(path.join(a, 'model', 'weights.bin')).equals(readFileSync(path.join(b, 'model', 'weights.bin'))),
    );
    const [sa, sb] = [readJson(path.join(a, 'summary.json')), readJson(path.join(b, 'summary.json'))];
    assert.deepEqual([sb.test.accuracy, sb.test.loss], [sa.test.accuracy, sa.test.loss]);
    assert.deepEqual({ ...sb.adapt, seconds: 0 }, { method: 'adabn', images: 24, batchNormLayers: 9, seconds: 0 });
  });

  it('the resumed process adapted its fresh base again (from the stage cache: the first process kept the statistics)', () => {
    assert.match(
      resumedLog,
      /adapt: AdaBN re-estimated 9 batch-norm layers' statistics on \d+ training images, which the head\s+trains with \(from the stage cache\)/,
    );
  });
});
