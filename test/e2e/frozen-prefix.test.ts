import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { epochRows, readJson, tlpipe, workspace, write, type CliResult } from './cli-harness.js';
import { plan as planPipeline } from '../../src/api/index.js';
import { formatPlan } from '../../src/cli/format-plan.js';

/** A head stage, then block 4 and 5 fine-tuned: the frozen prefix ends at block_3_project_BN, which block_4_add also reads. */
const pipeline = (
  name: string,
  extra: { backend?: string; augment?: boolean; tuneRate?: number; perClass?: number; epochs?: number } = {},
): string => `name: ${name}
seed: 5
backend: ${extra.backend ?? 'wasm'}
dataset:
  format: mnist
  limit: { perClass: ${extra.perClass ?? 8}, testPerClass: 3 }
  validation: 0.25
  image: { size: [32, 32] }${extra.augment ? '\n  augment: { flipHorizontal: true, rotate: 8 }' : ''}
base: { cut: block_5_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 16, activation: relu }
  - dropout: { rate: 0.2 }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 8
  stages:
    - { name: head, epochs: ${extra.epochs ?? 2}, optimizer: { learningRate: 0.01 } }
    - { name: tune, epochs: ${extra.epochs ?? 2}, unfreeze: ["block_4_*", "block_5_*"], optimizer: { learningRate: ${extra.tuneRate ?? 0.002} } }
`;

const runOf = (dir: string, runs: string, name: string): string => {
  const folder = path.join(dir, runs, name);
  return path.join(
    folder,
    // The first: runs folder `cached` holds two runs once the stage-cache case has run.
    readdirSync(folder)
      .sort()
      .find((n) => /^\d{4}-/.test(n))!,
  );
};
const METRICS = ['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const;
/** The largest difference between two runs' epoch metrics and test metrics. */
function largestDifference(a: string, b: string): number {
  const rowsA = epochRows(a);
  const rowsB = epochRows(b);
  assert.equal(rowsA.length, rowsB.length);
  const diffs = rowsA.flatMap((row, i) => METRICS.map((m) => Math.abs((row[m] as number) - (rowsB[i]![m] as number))));
  const testA = readJson(path.join(a, 'summary.json')).test;
  const testB = readJson(path.join(b, 'summary.json')).test;
  return Math.max(...diffs, Math.abs(testA.loss - testB.loss), Math.abs(testA.accuracy - testB.accuracy));
}

describe('a fine-tuning stage trains above its frozen prefix', () => {
  const dir = workspace('prefix');
  /**
   * p.yaml trained once on wasm, the stage cache cold (runs folder `cached`): the run with the prefix split off that
   * the whole-model run, the cached later run and the cpu run are each compared with.
   */
  let first: CliResult = { code: -1, stdout: '', stderr: '' };
  before(async () => {
    write(dir, 'p.yaml', pipeline('p'));
    write(dir, 'aug.yaml', pipeline('aug', { augment: true }));
    // A smaller pipeline on each backend (the cpu backend trains the unfrozen blocks some ten times slower than wasm).
    write(dir, 'small-wasm.yaml', pipeline('small', { perClass: 2 }));
    write(dir, 'small-cpu.yaml', pipeline('small', { perClass: 2, backend: 'cpu' }));
    first = await tlpipe(['run', 'p.yaml', '--runs', 'cached'], dir);
  });

  it('the plan says where the stage trains, and why when it cannot', async () => {
    const plan = await tlpipe(['plan', 'p.yaml'], dir);
    assert.equal(plan.code, 0, plan.stderr);
    // The line wraps at 100 columns.
    assert.match(
      plan.stdout,
      /^ {4}trains above block_3_project_BN: the frozen prefix's output \(4×4×32\) computed once per example\s+and kept \(0\.2 MiB\)$/m,
    );
    assert.match(
      plan.stdout,
      /^prefix:tune +\w+ +data, base\n {2}the frozen prefix's output \(\d+ base layers up to block_3_project_BN → 4×4×32\)/m,
    );
    // The other two plans in this process (the CLI prints formatPlan's lines, as above): no CLI starting twice more.
    const planned = async (file: string): Promise<string> => {
      const result = await planPipeline(path.join(dir, file));
      assert.ok(result.ok, JSON.stringify(result.diagnostics));
      return formatPlan(result.value);
    };
    const augmented = await planned('aug.yaml');
    assert.match(
      augmented,
      /^ {4}trains above block_3_project_BN: the frozen prefix runs every batch, outside the gradient tape\s+\(augmentation changes the images every epoch\)$/m,
    );
    write(dir, 'all.yaml', pipeline('all').replace('unfreeze: ["block_4_*", "block_5_*"]', 'unfreeze: ["*"]'));
    const all = await planned('all.yaml');
    assert.match(all, /^ {4}images run through the whole model every step \(the stage trains from the first layer\)$/m);
  });

  it('once per example: the same metrics, bit for bit, as the whole model in every step (TLPIPE_FROZEN_PREFIX=0)', async () => {
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /frozen prefix \(to block_3_project_BN\) train: 60 examples in/);
    const whole = await tlpipe(['run', 'p.yaml', '--runs', 'whole', '--no-cache'], dir, { TLPIPE_FROZEN_PREFIX: '0' });
    assert.equal(whole.code, 0, whole.stderr);
    assert.doesNotMatch(whole.stderr, /frozen prefix/);
    const a = runOf(dir, 'cached', 'p');
    const b = runOf(dir, 'whole', 'p');
    assert.deepEqual(epochRows(a), epochRows(b));
    assert.deepEqual(readJson(path.join(a, 'summary.json')).test, readJson(path.join(b, 'summary.json')).test);
  });

  it('in two feature workers (enough examples to repay them): the same metrics, bit for bit, as on this thread', async () => {
    // One epoch a stage: the workers compute the prefix's output once, before the first epoch of the stage.
    write(dir, 'many.yaml', pipeline('many', { perClass: 30, epochs: 1 }));
    const workers = await tlpipe(['run', 'many.yaml', '--runs', 'workers', '--no-cache'], dir, { TLPIPE_WORKERS: '2' });
    assert.equal(workers.code, 0, workers.stderr);
    assert.match(
      workers.stderr,
      /frozen prefix \(to block_3_project_BN\) train: 220 examples in [\d.]+s \([\d.]+\/s, 2 workers\)/,
    );
    const alone = await tlpipe(['run', 'many.yaml', '--runs', 'alone', '--no-cache'], dir, { TLPIPE_WORKERS: '1' });
    assert.equal(alone.code, 0, alone.stderr);
    assert.doesNotMatch(alone.stderr, /workers\)/);
    assert.deepEqual(epochRows(runOf(dir, 'workers', 'many')), epochRows(runOf(dir, 'alone', 'many')));
  });

  it('with augmentation: the folded prefix every batch, within 1e-4 of the whole model', async () => {
    const split = await tlpipe(['run', 'aug.yaml', '--runs', 'split', '--no-cache'], dir);
    assert.equal(split.code, 0, split.stderr);
    const whole = await tlpipe(['run', 'aug.yaml', '--runs', 'whole', '--no-cache'], dir, {
      TLPIPE_FROZEN_PREFIX: '0',
    });
    assert.equal(whole.code, 0, whole.stderr);
    // Batch norm folded into the convolutions rounds differently in the last bits; nothing else differs.
    const difference = largestDifference(runOf(dir, 'split', 'aug'), runOf(dir, 'whole', 'aug'));
    assert.ok(difference < 1e-4, `largest difference ${difference}`);
  });

  it("a later run that changes only the fine-tuning rate takes the prefix's output from the stage cache, and trains as a fresh run does", async () => {
    // The first run, on a cold cache, is the one `before` made.
    assert.equal(first.code, 0, first.stderr);
    write(dir, 'p.yaml', pipeline('p', { tuneRate: 0.004 }));
    const second = await tlpipe(['run', 'p.yaml', '--runs', 'cached'], dir);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /stage head: 2 epoch\(s\) reused from the stage cache/);
    assert.match(second.stderr, /frozen prefix \(to block_3_project_BN\) train: 60 examples from the stage cache/);
    const fresh = await tlpipe(['run', 'p.yaml', '--runs', 'fresh', '--no-cache'], dir);
    assert.equal(fresh.code, 0, fresh.stderr);
    const cachedRun = readdirSync(path.join(dir, 'cached', 'p'))
      .filter((n) => /^\d{4}-/.test(n))
      .sort()
      .pop()!;
    assert.deepEqual(
      epochRows(path.join(dir, 'cached', 'p', cachedRun)).map(({ reused: _, ...row }) => row),
      epochRows(runOf(dir, 'fresh', 'p')),
    );
  });

  it('the cpu backend gives the same metrics as wasm within 1e-3', async () => {
    const wasm = await tlpipe(['run', 'small-wasm.yaml', '--runs', 'small-wasm', '--no-cache'], dir);
    const cpu = await tlpipe(['run', 'small-cpu.yaml', '--runs', 'small-cpu', '--no-cache'], dir);
    assert.equal(wasm.code, 0, wasm.stderr);
    assert.match(wasm.stderr, /^backend wasm/m);
    assert.equal(cpu.code, 0, cpu.stderr);
    assert.match(cpu.stderr, /^backend cpu/m);
    // Both trained the tune stage above the frozen prefix.
    for (const r of [wasm, cpu])
      assert.match(r.stderr, /frozen prefix \(to block_3_project_BN\) train: 10 examples in/);
    const difference = largestDifference(runOf(dir, 'small-cpu', 'small'), runOf(dir, 'small-wasm', 'small'));
    assert.ok(difference < 1e-3, `largest difference ${difference}`);
  });
});
