import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/kernels/backend.js';
import { SeededRandom } from '../../src/engine/random.js';
import { fileModelHandler } from '../../src/store/model-folder.js';
import { epochRows, readJson, startCli, tlpipe, workspace, write } from './cli-harness.js';

const PIPELINE = `name: crash
seed: 9
backend: wasm
dataset: { format: mnist, limit: { perClass: 6, testPerClass: 2 }, image: { size: [32, 32] } }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 12, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 8
  checkpoints: { keepLast: 2 }
  stages:
    - { name: head, epochs: 4, optimizer: { learningRate: 0.01 } }
    - { name: tune, epochs: 2, unfreeze: ["block_2_*"], optimizer: { learningRate: 0.001 } }
`;

/**
 * Trials in npm test: three, each in its own third of the run (early, middle, late; see the trials below);
 * TLPIPE_KILL_TRIALS=100 for a long run.
 */
const TRIALS = Number(process.env['TLPIPE_KILL_TRIALS'] ?? 3);

/** Every file of a run folder that should parse does: .json whole, .jsonl line by line. */
function unparsable(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return unparsable(file);
    try {
      if (entry.name.endsWith('.json')) JSON.parse(readFileSync(file, 'utf8'));
      if (entry.name.endsWith('.jsonl'))
        for (const line of readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== ''))
          JSON.parse(line);
      return [];
    } catch {
      return [file];
    }
  });
}

describe(`SIGKILL at random moments, ${TRIALS} trials: nothing is corrupt, and resume completes the run`, () => {
  const dir = workspace('crash');
  let reference: Record<string, unknown>[] = [];
  /** How long the reference run worked after its folder appeared: the window the kills fall in. */
  let window = 0;
  before(async () => {
    await selectBackend('wasm');
    write(dir, 'crash.yaml', PIPELINE);
    let appeared = 0;
    const run = startCli(['run', 'crash.yaml', '--runs', 'reference', '--no-cache'], dir, {
      onStderr: (stderr) => {
        if (appeared === 0 && /^run /m.test(stderr)) appeared = performance.now();
      },
    });
    assert.equal(await run.exited(), 0, run.stderr());
    window = performance.now() - appeared;
    const runs = path.join(dir, 'reference', 'crash');
    reference = epochRows(
      path.join(
        runs,
        readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
      ),
    );
  });

  const random = new SeededRandom(20261128);
  const outcomes: string[] = [];
  for (let trial = 1; trial <= TRIALS; trial++) {
    it(`trial ${trial}: killed at a seeded random moment while the run works`, async () => {
      // From the moment the run folder exists to about when the run ends: data, features, epochs, checkpoints;
      // stratified, trial k at a seeded moment of the k-th of TRIALS equal slices, so few trials still cover the run.
      // The slices end a little before the reference run did: a later kill mostly finds the run already finished.
      const delay = Math.floor(((trial - 1 + random.next()) / TRIALS) * 0.85 * window);
      const runsRoot = `trial-${trial}`;
      let timed = false;
      const run = startCli(['run', 'crash.yaml', '--runs', runsRoot, '--no-cache'], dir, {
        onStderr: (stderr, child) => {
          if (timed || !/^run /m.test(stderr)) return;
          timed = true;
          setTimeout(() => child.kill('SIGKILL'), delay);
        },
      });
      const code = await run.exited();
      const stderr = run.stderr();
      outcomes.push(code === 'SIGKILL' ? `killed at: ${stderr.trim().split('\n').at(-1)}` : 'finished first');
      const runs = path.join(dir, runsRoot, 'crash');
      const runDir = path.join(
        runs,
        readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
      );
      assert.deepEqual(unparsable(runDir), [], stderr);
      // Every checkpoint folder present is whole: it loads.
      const checkpoints = existsSync(path.join(runDir, 'checkpoints'))
        ? readdirSync(path.join(runDir, 'checkpoints')).filter((n) => /^epoch-\d{3}$/.test(n))
        : [];
      for (const name of checkpoints)
        (await tf.loadLayersModel(fileModelHandler(path.join(runDir, 'checkpoints', name)))).dispose();
      const listed = JSON.parse((await tlpipe(['runs', '--runs', runsRoot, '--json'], dir)).stdout)[0];
      if (code === 'SIGKILL' && listed.status !== 'completed') {
        assert.equal(listed.status, 'interrupted');
        const resumed = await tlpipe(['resume', runDir, '--no-cache'], dir);
        assert.equal(resumed.code, 0, resumed.stderr);
      } else if (code !== 'SIGKILL') assert.equal(code, 0, `the run ended before the kill: ${stderr}`);
      // (Killed after it recorded completion, while exiting: it is complete, and says so.)
      assert.equal(readJson(path.join(runDir, 'run.json')).status, 'completed');
      assert.deepEqual(unparsable(runDir), []);
      assert.deepEqual(epochRows(runDir), reference, 'the resumed run ends exactly as the uninterrupted one');
    });
  }
  it('the kills landed while the runs worked', () => {
    assert.ok(outcomes.filter((o) => o.startsWith('killed')).length >= Math.ceil(TRIALS / 2), outcomes.join('\n'));
    console.log(outcomes.join('\n'));
  });
});

describe('concurrency', () => {
  it('four runs of one pipeline started at once get distinct folders and never interleave', async () => {
    const dir = workspace('concurrent');
    write(dir, 'crash.yaml', PIPELINE.replace(/ {4}- \{ name: tune.*\n/, ''));
    const results = await Promise.all([1, 2, 3, 4].map(() => tlpipe(['run', 'crash.yaml'], dir)));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const runs = path.join(dir, 'runs', 'crash');
    const ids = readdirSync(runs)
      .filter((n) => /^\d{4}-/.test(n))
      .sort();
    assert.deepEqual(
      ids.map((id) => id.slice(0, 4)),
      ['0001', '0002', '0003', '0004'],
    );
    const first = epochRows(path.join(runs, ids[0]!));
    assert.deepEqual(
      first.map((r) => r['epoch']),
      [1, 2, 3, 4],
    );
    for (const id of ids) {
      assert.deepEqual(unparsable(path.join(runs, id)), []);
      assert.equal(readJson(path.join(runs, id, 'run.json')).status, 'completed');
      assert.deepEqual(epochRows(path.join(runs, id)), first, `${id}: one line per epoch, its own`);
    }
  });
});

/** A tmpfs of `size` mounted at `dir`, when this machine allows mounting (root in a container that permits it). */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('resource limits', () => {
  it('a full disk (a 96 KiB tmpfs) fails the run with a clear message, its files intact', async (t) => {
    const dir = workspace('full-disk');
    write(dir, 'full.yaml', PIPELINE.replace(/ {4}- \{ name: tune.*\n/, ''));
    const runsRoot = path.join(dir, 'runs');
    if (!mountTmpfs(runsRoot, '96k')) return t.skip('cannot mount a tmpfs here (needs root)');
    try {
      const r = await tlpipe(['run', 'full.yaml', '--no-cache'], dir);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^full\.yaml: error: no space left on the device writing runs\/crash\/0001-[0-9a-f]{8}\/\S+\n {2}hint: free space .* and continue with `tlpipe resume runs\/crash\/0001-/m,
      );
      assert.doesNotMatch(r.stderr, /internal error|^\s+at /m);
      const runDir = path.join(
        runsRoot,
        'crash',
        readdirSync(path.join(runsRoot, 'crash')).find((n) => /^\d{4}-/.test(n))!,
      );
      assert.deepEqual(unparsable(runDir), []);
      const run = readJson(path.join(runDir, 'run.json'));
      assert.equal(run.status, 'failed');
      assert.match(run.error.message, /no space left/);
      const temporary = (d: string): string[] =>
        readdirSync(d, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? temporary(path.join(d, e.name)) : e.name.endsWith('.tmp') ? [e.name] : [],
        );
      assert.deepEqual(temporary(runDir), []);
    } finally {
      execFileSync('umount', [runsRoot]);
    }
  });
});

describe('the wasm heap', () => {
  it('a fine-tuning batch too large for the 4 GiB heap is an error before training, naming the largest batch that fits — and that batch trains', async () => {
    const dir = workspace('heap');
    const pipeline = (batch: number): string => `name: heap
backend: wasm
dataset: { format: mnist, limit: { perClass: 2, testPerClass: 1 }, validation: 0, image: { size: [224, 224] } }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: ${batch}
  stages:
    - { name: tune, epochs: 1, unfreeze: ["block_3_*"] }
`;
    write(dir, 'heap.yaml', pipeline(32));
    const r = await tlpipe(['run', 'heap.yaml'], dir);
    assert.equal(r.code, 1, r.stderr);
    const found =
      /^heap\.yaml:8:14: error: train\.batchSize: stage `tune` trains on batches of 32 at 224×224, which need about [\d.]+ GiB; the wasm backend's heap holds 4 GiB\n.*\n.*\n {2}hint: the largest batch that fits is (\d+): /m.exec(
        r.stderr,
      );
    assert.ok(found, r.stderr);
    assert.equal(existsSync(path.join(dir, 'runs')), false, 'refused before a run folder was made');
    // The batch it names really trains: one step at that size, no abort.
    write(dir, 'heap.yaml', pipeline(Number(found[1])));
    const fits = await tlpipe(['run', 'heap.yaml', '--no-cache'], dir);
    assert.equal(fits.code, 0, fits.stderr);
  });
});
