import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../src/package/package-root.js';
import { readJson, tlpipe, workspace } from './cli-harness.js';

const PIPELINES = path.join(packageRoot(), 'pipelines');
const latestRun = (runs: string, name: string): string => {
  const dir = path.join(runs, name);
  return path.join(
    dir,
    readdirSync(dir)
      .filter((n) => /^\d{4}-/.test(n))
      .sort()
      .at(-1)!,
  );
};
const rows = (runDir: string): Record<string, number | string>[] =>
  readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

/** The seed article's two recipes as shipped, at a size a test can run (the full runs are in the README). */
describe("the seed article's recipes as shipped pipelines", () => {
  const dir = workspace('tlpipe-seed');
  const tiny = [
    '--set',
    'dataset.limit={ perClass: 12, testPerClass: 4 }',
    '--no-cache',
    '--runs',
    path.join(dir, 'runs'),
  ];

  it("seed-cnn.yaml: its plan counts the weights as Keras' model.summary() does for the article's model", async () => {
    const r = await tlpipe(['plan', path.join(PIPELINES, 'seed-cnn.yaml')], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cnn: head only \(base frozen\); 1,387,594 of 1,387,594 weights learn/);
    assert.match(r.stdout, /28×28×1/);
  });

  it("seed-cnn.yaml: validation on the test split every epoch, as the article's loop; the last epoch's val_* are the test metrics", async () => {
    const r = await tlpipe(
      ['run', path.join(PIPELINES, 'seed-cnn.yaml'), ...tiny, '--set', 'train.stages[0].epochs=2'],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /data 120 train, validation on the test split, 40 test/);
    assert.match(r.stderr, /^no base: the head reads the 28×28×1 inputs themselves$/m);
    const runDir = latestRun(path.join(dir, 'runs'), 'seed-cnn');
    const epochs = rows(runDir);
    assert.equal(epochs.length, 2);
    const summary = readJson(path.join(runDir, 'summary.json'));
    assert.equal(summary.test.examples, 40);
    assert.ok(
      Math.abs(Number(epochs[1]!['val_accuracy']) - summary.test.accuracy) < 1e-6,
      `${epochs[1]!['val_accuracy']} vs ${summary.test.accuracy}`,
    );
    assert.ok(
      Math.abs(Number(epochs[1]!['val_loss']) - summary.test.loss) < 1e-4,
      `${epochs[1]!['val_loss']} vs ${summary.test.loss}`,
    );
  });

  it('seed-transfer.yaml: a head on the frozen MobileNetV2, then its later blocks fine-tuned above the frozen prefix, beside the same network from scratch', async () => {
    const r = await tlpipe(
      [
        'run',
        path.join(PIPELINES, 'seed-transfer.yaml'),
        ...tiny,
        // The path, not the accuracy: 32×32 images take the same stages, prefix and baseline as the recipe's 64×64,
        // at a quarter of the work (the scratch baseline trains the whole network, forward and back).
        '--set',
        'dataset.image.size=[32, 32]',
        '--set',
        'train.stages[0].epochs=2',
        '--set',
        'train.stages[1].epochs=1',
        '--set',
        'baseline=scratch',
      ],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /frozen prefix \(to block_10_project_BN\)/);
    const runDir = latestRun(path.join(dir, 'runs'), 'seed-transfer');
    assert.deepEqual(
      rows(runDir).map((row) => row['stage']),
      ['head', 'head', 'finetune'],
    );
    const summary = readJson(path.join(runDir, 'summary.json'));
    assert.equal(summary.status, 'completed');
    assert.equal(
      rows(runDir).length,
      readFileSync(path.join(runDir, 'baseline-metrics.jsonl'), 'utf8').trim().split('\n').length,
    );
    assert.equal(typeof summary.baseline.test.accuracy, 'number');
  });
});
