import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readJson, tlpipeBounded, workspace, write, writeMnistSubsetIdx, type CliResult } from './cli-harness.js';

/** Three tiny runs on a loaded machine: well under a minute each; a hang fails the test instead of the suite. */
const RUN_MS = 5 * 60_000;
const tlpipe = async (args: string[], cwd: string): Promise<CliResult> => {
  const r = await tlpipeBounded(args, cwd, { timeoutMs: RUN_MS, env: { TLPIPE_WORKERS: '1' } });
  assert.equal(r.timedOut, false, `tlpipe ${args.join(' ')} did not end:\n${r.stderr.slice(-3000)}`);
  return r;
};

/** Two stages: a head on the frozen base, then block_2 fine-tuned above a frozen prefix whose activations are stored once per example. */
const PIPELINE = `name: kft
seed: 3
backend: wasm
dataset:
  format: idx
  train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }
  test: { images: test-images-idx3-ubyte.gz, labels: test-labels-idx1-ubyte.gz }
  image: { size: [32, 32] }
  validation: 0.25
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 8
  stages:
    - { name: head, epochs: 3, optimizer: { name: adam, learningRate: 0.01 } }
    - { name: finetune, epochs: 2, unfreeze: ["block_2_*"], optimizer: { name: adam, learningRate: 0.001 } }
`;

interface Event {
  type: string;
  split?: string;
  at?: string;
  dir?: string;
}
const events = (r: CliResult): Event[] =>
  r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Event);

/** What a fold's run learned and measured: equal only when it trained on the same activations. */
function outcome(r: CliResult): unknown {
  const dir = events(r).find((e) => e.type === 'run-end')!.dir!;
  const summary = readJson(path.join(dir, 'summary.json'));
  return { test: [summary.test.accuracy, summary.test.loss], stages: summary.stages };
}

describe('k-fold with a fine-tuning stage: each fold trains on its own rows of the frozen prefix', () => {
  const dir = workspace('kfold-finetune');
  writeMnistSubsetIdx(dir, 6, 3);
  const file = write(dir, 'kft.yaml', PIPELINE);
  const fold = (n: number, runs: string): Promise<CliResult> =>
    tlpipe(['run', file, '--folds', '2', '--set', `evaluate.fold=${n}`, '--json', '--runs', path.join(dir, runs)], dir);

  it("fold 2 after fold 1 in one runs folder reads the prefix's pool, and ends as fold 2 alone in a fresh one", async () => {
    const first = await fold(1, 'shared');
    assert.equal(first.code, 0, first.stderr);
    const prefixWork = (r: CliResult, type: string): string[] =>
      events(r)
        .filter((e) => e.type === type && e.at !== undefined)
        .map((e) => e.split!);
    // The prefix's activations of train+validation: computed once, by the first fold, as one pool.
    assert.deepEqual(prefixWork(first, 'features-start'), ['pool']);
    const second = await fold(2, 'shared');
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(prefixWork(second, 'features-start'), []);
    assert.deepEqual(prefixWork(second, 'features-reused'), ['pool']);
    const alone = await fold(2, 'fresh');
    assert.equal(alone.code, 0, alone.stderr);
    assert.deepEqual(prefixWork(alone, 'features-start'), ['pool']);
    assert.deepEqual(outcome(second), outcome(alone));
    assert.notDeepEqual(outcome(first), outcome(second), 'the folds train on different examples');
  });
});
