import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import {
  epochRows,
  readJson,
  startCli,
  tlpipe,
  workspace,
  write,
  writeDigitImageFolder,
  writeMnistSubsetIdx,
  type CliResult,
} from './cli-harness.js';

/**
 * Learned alignment on real MNIST digits: the target domain is other MNIST
 * digits with their colours inverted (white background), written by sharp.
 * A head stage, then a stage that fine-tunes block 2 with the alignment.
 */
const pipeline = (name: string, method: 'coral' | 'dann'): string => `name: ${name}
seed: 3
backend: wasm
dataset: { format: idx, train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }, image: { size: [32, 32] } }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
adapt: { images: target, method: ${method}, weight: 0.5 }
train:
  batchSize: 8
  stages:
    - { name: head, epochs: 1, optimizer: { learningRate: 0.01 } }
    - { name: tune, epochs: 3, unfreeze: ["block_2_*"], optimizer: { learningRate: 0.001 } }
`;

/** A workspace with 6 training digits of each of 0–2 and 12 inverted digits as target images. */
async function digitsWorkspace(prefix: string, method: 'coral' | 'dann'): Promise<string> {
  const dir = workspace(prefix);
  writeMnistSubsetIdx(dir, 6, 3);
  const plain = await writeDigitImageFolder(path.join(dir, 'plain'), 4, ['png']);
  mkdirSync(path.join(dir, 'target'));
  for (const [i, file] of plain.entries())
    await sharp(file)
      .negate()
      .png()
      .toFile(path.join(dir, 'target', `inverted-${i}.png`));
  write(dir, 'align.yaml', pipeline('align', method));
  return dir;
}

const runDirOf = (dir: string): string => {
  const runs = path.join(dir, 'runs', 'align');
  return path.join(
    runs,
    readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
  );
};
// Live-tensor counts differ after a resume (the head stage's are not in memory).
const metricsOf = (runDir: string): Record<string, unknown>[] => epochRows(runDir, ['seconds', 'tensors']);

describe('adapt.method coral: the CORAL loss joins fine-tuning, measured per epoch, reproducibly', () => {
  let dirs: string[] = [];
  let runs: CliResult[] = [];
  let plan: CliResult;

  before(async () => {
    dirs = await Promise.all([digitsWorkspace('coral-a', 'coral'), digitsWorkspace('coral-b', 'coral')]);
    // Separate workspaces: separate stage caches, so the second run trains every stage itself.
    [plan, ...runs] = await Promise.all([
      tlpipe(['plan', 'align.yaml'], dirs[0]!),
      ...dirs.map((dir) => tlpipe(['run', 'align.yaml'], dir)),
    ]);
  });

  it('both runs complete', () => {
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
  });

  it('the plan says which stage aligns, on how many target images, and why it runs the whole model', () => {
    assert.equal(plan.code, 0, plan.stderr);
    const text = plan.stdout.replace(/\n\s+/g, ' ');
    assert.match(text, /aligned to 12 target image\(s\) by CORAL × 0\.5 on the base's pooled output/);
    assert.match(text, /adapt\.method coral runs target images through the base beside each training batch/);
  });

  it("every fine-tuning epoch records the CORAL loss (finite, above 0); the head stage's none", () => {
    const rows = metricsOf(runDirOf(dirs[0]!));
    assert.deepEqual(
      rows.map((r) => [r['stage'], r['coral_loss'] === undefined]),
      [
        ['head', true],
        ['tune', false],
        ['tune', false],
        ['tune', false],
      ],
    );
    for (const r of rows.slice(1)) assert.ok(Number.isFinite(r['coral_loss']) && (r['coral_loss'] as number) > 0);
  });

  it('no tensors leak: the live count is the same after every epoch of the aligning stage', () => {
    const counts = epochRows(runDirOf(dirs[0]!), [])
      .filter((r) => r['stage'] === 'tune')
      .map((r) => r['tensors']);
    assert.deepEqual(
      counts,
      counts.map(() => counts[0]),
    );
  });

  it('two runs with the same seed give bit-identical metrics and weights', () => {
    const [a, b] = dirs.map((dir) => runDirOf(dir));
    assert.deepEqual(metricsOf(b!), metricsOf(a!));
    assert.ok(
      readFileSync(path.join(a!, 'model/weights.bin')).equals(readFileSync(path.join(b!, 'model/weights.bin'))),
    );
  });

  it('the run log and the report show it', () => {
    const runDir = runDirOf(dirs[0]!);
    assert.match(runs[0]!.stderr, /tune epoch 2 .* coral \d/);
    const report = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    assert.match(report, /<svg class="chart" role="img" aria-label="domain alignment/);
    assert.match(report, /data-series="CORAL loss"/);
    assert.match(
      report,
      /<th style="text-align:left">domain alignment<\/th><td style="text-align:left">–<\/td><td style="text-align:left">aligned to 12 target image\(s\) by CORAL × 0\.5/,
    );
  });
});

describe('adapt.method dann: a run killed mid-stage resumes to the same domain classifier and weights', () => {
  let whole = '';
  let killed = '';
  let killedAfter = '';
  let resumed: CliResult;

  before(async () => {
    [whole, killed] = await Promise.all([
      digitsWorkspace('dann-whole', 'dann'),
      digitsWorkspace('dann-killed', 'dann'),
    ]);
    const [uninterrupted] = await Promise.all([
      tlpipe(['run', 'align.yaml'], whole),
      (async () => {
        // SIGKILL once the stage's second epoch has ended: its checkpoint (or the one before) holds the classifier.
        const run = startCli(['run', 'align.yaml'], killed, {
          onStderr: (stderr, child) => /tune epoch 3 /.test(stderr) && !child.killed && child.kill('SIGKILL'),
        });
        await run.exited();
        killedAfter = run.stderr();
      })(),
    ]);
    assert.equal(uninterrupted.code, 0, uninterrupted.stderr);
    resumed = await tlpipe(['resume', runDirOf(killed)], killed);
  });

  it('the killed run stopped inside the aligning stage and resumed from a checkpoint in it', () => {
    assert.match(killedAfter, /tune epoch 3 /);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming .* from epoch [23]/);
    const state = readJson(
      path.join(
        runDirOf(killed),
        'checkpoints',
        readJson(path.join(runDirOf(killed), 'checkpoints/index.json')).latest.dir.split('/')[1],
        'trainer-state.json',
      ),
    );
    assert.deepEqual(
      state.domainClassifier.weights.weightSpecs.map((s: { shape: number[] }) => s.shape),
      [[24, 64], [64], [64, 1], [1]],
    );
  });

  it("every epoch's metrics, the domain loss and accuracy included, equal the uninterrupted run's exactly", () => {
    const expected = metricsOf(runDirOf(whole));
    assert.equal(expected.length, 4);
    for (const r of expected.slice(1)) {
      assert.ok(Number.isFinite(r['domain_loss']), JSON.stringify(r));
      assert.ok((r['domain_accuracy'] as number) >= 0 && (r['domain_accuracy'] as number) <= 1, JSON.stringify(r));
    }
    assert.deepEqual(metricsOf(runDirOf(killed)), expected);
  });

  it('no tensors leak while the domain classifier trains', () => {
    const counts = epochRows(runDirOf(whole), [])
      .filter((r) => r['stage'] === 'tune')
      .map((r) => r['tensors']);
    assert.deepEqual(
      counts,
      counts.map(() => counts[0]),
    );
  });

  it("the exported model is byte-identical to the uninterrupted run's", () => {
    assert.ok(
      readFileSync(path.join(runDirOf(killed), 'model/weights.bin')).equals(
        readFileSync(path.join(runDirOf(whole), 'model/weights.bin')),
      ),
    );
  });
});
