import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  hasStackTrace,
  readJson,
  tlpipeBounded,
  workspace,
  write,
  writeMnistSubsetIdx,
  type CliResult,
} from './cli-harness.js';
import { run, stratifiedFolds } from '../../src/api/index.js';
import { extractions, Processes, unwrapped, waitFor } from './sweep-harness.js';

/** A few small folds on a loaded machine: a minute or two; a hang fails the test instead of the suite. */
const KFOLD_MS = 8 * 60_000;
const tlpipe = async (args: string[], cwd: string): Promise<CliResult> => {
  const r = await tlpipeBounded(args, cwd, { timeoutMs: KFOLD_MS, env: { TLPIPE_WORKERS: '1' } });
  assert.equal(r.timedOut, false, `tlpipe ${args.join(' ')} did not end:\n${r.stderr.slice(-3000)}`);
  return r;
};

const K = 3;
const PER_CLASS = 12;
const CLASSES = 3;

/** Real MNIST digits (12 per class of 0, 1, 2 for train+validation, as many for test), a head-only pipeline that learns them in 20 quick epochs. */
const pipeline = (epochs = 20, extra = ''): string => `name: kf
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
  - dense: { units: classes, activation: softmax${extra} }
train:
  batchSize: 8
  stages:
    - { name: head, epochs: ${epochs}, optimizer: { name: adam, learningRate: 0.01 } }
`;

interface FoldLine {
  fold: number;
  status: string;
  run?: string;
  reason?: string;
  metrics: Record<string, number>;
}
interface Summary {
  status: string;
  k: number;
  error?: string;
  model: null;
  folds: FoldLine[];
  metrics: Record<string, { folds: (number | null)[]; mean: number; std: number; n: number }>;
}

/** The newest k-fold folder of a runs folder. */
function kfoldDir(runs: string): string {
  const parent = path.join(runs, 'kf', 'kfold');
  const names = (existsSync(parent) ? readdirSync(parent) : []).filter((n) => /^\d{4}-[0-9a-f]{8}$/.test(n)).sort();
  assert.ok(names.length > 0, `no k-fold folder in ${parent}`);
  return path.join(parent, names.at(-1)!);
}

const sampleStd = (values: number[]): number => {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
};

describe('tlpipe run --folds: k-fold cross-validation on cached features', () => {
  const dir = workspace('kfold');
  writeMnistSubsetIdx(dir, PER_CLASS, CLASSES);
  const file = write(dir, 'kf.yaml', pipeline());
  const runs = (name: string): string => path.join(dir, name);
  const processes = new Processes();
  after(() => processes.stopAll());
  let reference: Summary | undefined;

  it('plan says the folds, their sizes, and that the base features are computed once for all of them', async () => {
    const r = await tlpipe(['plan', file, '--folds', String(K), '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.equal(plan.k, K);
    assert.deepEqual(
      plan.folds.map((f: { counts: { validation: number; test: number } }) => [f.counts.validation, f.counts.test]),
      [
        [12, 36],
        [12, 36],
        [12, 36],
      ],
    );
    assert.deepEqual(plan.work, [
      { task: 'features:head', folds: K, distinct: 1 },
      { task: 'stage head', folds: K, distinct: K },
    ]);
    const text = await tlpipe(['plan', file, '--folds', String(K)], dir);
    assert.match(
      unwrapped(text.stdout),
      /^k-fold cross-validation: 3 folds of train\+validation \(stratified, seed 3\)/m,
    );
    assert.match(text.stdout, /^ {2}features:head: 1 for 3 fold\(s\)$/m);
  });

  it('-j 2: every fold an ordinary run; one extraction of train+validation and one of test for all folds; per-fold metrics and mean ± std in summary.json; folds.json stratified', async () => {
    const r = await tlpipe(['run', file, '--folds', String(K), '-j', '2', '--runs', runs('two')], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^3-fold cross-validation completed: /m);
    assert.match(r.stdout, /^ {2}val_accuracy \d\.\d{4} ± \d\.\d{4}$/m);
    assert.match(r.stdout, /^ {2}test_accuracy \d\.\d{4} ± \d\.\d{4}$/m);
    // The pool's features and the test split's, extracted by one fold; the others read them from the stage cache.
    assert.equal(extractions(runs('two'), 'kf'), 2);
    const parent = kfoldDir(runs('two'));
    const summary = readJson(path.join(parent, 'summary.json')) as Summary;
    assert.equal(summary.status, 'completed');
    assert.equal(summary.model, null, 'a k-fold run trains no model of its own');
    assert.deepEqual(
      summary.folds.map((f) => [f.fold, f.status]),
      [
        [1, 'completed'],
        [2, 'completed'],
        [3, 'completed'],
      ],
    );
    for (const fold of summary.folds) {
      const foldDir = path.join(runs('two'), fold.run!);
      const own = readJson(path.join(foldDir, 'summary.json'));
      assert.equal(fold.metrics['test_accuracy'], own.test.accuracy, `fold ${fold.fold}'s test accuracy is its run's`);
      assert.equal(readJson(path.join(foldDir, 'run.json')).overrides['evaluate.fold'], fold.fold);
      assert.equal(own.data.counts.validation, 12);
      assert.ok(existsSync(path.join(foldDir, 'model', 'model.json')), 'each fold exports its model');
    }
    for (const name of ['val_accuracy', 'val_loss', 'test_accuracy', 'test_loss']) {
      const m = summary.metrics[name]!;
      const values = summary.folds.map((f) => f.metrics[name]!);
      assert.deepEqual(m.folds, values);
      assert.ok(Math.abs(m.mean - values.reduce((a, b) => a + b, 0) / K) < 1e-12, name);
      assert.ok(Math.abs(m.std - sampleStd(values)) < 1e-12, name);
    }
    assert.ok(summary.metrics['test_accuracy']!.mean > 0.5, 'the head learns the digits');
    // Which examples are in which fold: every pool example in one fold, each fold's class counts within 1.
    const folds = readJson(path.join(parent, 'folds.json'));
    assert.equal(folds.k, K);
    assert.equal(folds.pool.length, PER_CLASS * CLASSES);
    assert.equal(new Set(folds.pool).size, folds.pool.length);
    assert.deepEqual(
      folds.folds.map((f: { perClass: Record<string, number> }) => Object.values(f.perClass)),
      [
        [4, 4, 4],
        [4, 4, 4],
        [4, 4, 4],
      ],
    );
    const html = readFileSync(path.join(parent, 'report.html'), 'utf8');
    assert.equal(html.match(/<table class="kfold-metric"/g)?.length, Object.keys(summary.metrics).length);
    assert.match(html, /data-metric="test_accuracy">.*fold 3.*mean ± std/s);
    const links = [...html.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1]!);
    assert.equal(links.length, K);
    for (const link of links) assert.ok(existsSync(path.resolve(parent, link)), `${link} is the fold's report`);
    reference = summary;
    // The parent folder is not a run: listings and comparisons of the runs go on, and a model command says what it is.
    const listed = await tlpipe(['runs', '--runs', runs('two')], dir);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout.match(/^kf\/\d{4}-/gm)?.length, K);
    const compared = await tlpipe(['compare', 'kf/0001', 'kf/0002', '--runs', runs('two')], dir);
    assert.equal(compared.code, 0, compared.stderr);
    const evaluated = await tlpipe(['evaluate', parent, '--runs', runs('two')], dir);
    assert.equal(evaluated.code, 1);
    assert.match(unwrapped(evaluated.stderr), /is a k-fold cross-validation, which has no run or model of its own/);
    assert.equal(hasStackTrace(evaluated.stderr), false, evaluated.stderr);
  });

  it('interrupted after a fold finished, --resume keeps the finished folds and ends with the metrics of an uninterrupted run', async () => {
    assert.ok(reference, 'needs the uninterrupted run above');
    const first = processes.tlpipe(['run', file, '--folds', String(K), '--json', '--runs', runs('resumed')], dir, {
      TLPIPE_WORKERS: '1',
    });
    const events = (): { type: string; fold?: number; state?: { status: string } }[] =>
      first
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
    // Ctrl-C as soon as the line arrives, not at the next poll: the two folds left take seconds, and a loaded machine
    // can spend them between two polls.
    let sent = false;
    first.child.stdout!.on('data', () => {
      if (!sent && events().some((e) => e.type === 'fold' && e.fold === 1 && e.state?.status === 'completed'))
        sent = first.child.kill('SIGINT');
    });
    await waitFor('fold 1 completed', () => sent, { timeoutMs: KFOLD_MS, context: () => first.stderr() });
    const code = await Promise.race([
      first.done,
      new Promise((resolve) => setTimeout(() => resolve('hung'), 300_000).unref()),
    ]);
    assert.equal(code, 130, first.stderr());
    assert.equal(hasStackTrace(first.stderr()), false, first.stderr());
    const parent = kfoldDir(runs('resumed'));
    const interrupted = readJson(path.join(parent, 'summary.json')) as Summary;
    assert.equal(interrupted.status, 'interrupted');
    const finished = interrupted.folds.filter((f) => f.status === 'completed').map((f) => f.run);
    assert.ok(
      finished.length >= 1 && finished.length < K,
      `folds finished before the interruption: ${finished.length}`,
    );
    const r = await tlpipe(['run', file, '--folds', String(K), '--resume', '--runs', runs('resumed')], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming 3-fold cross-validation/);
    assert.equal(kfoldDir(runs('resumed')), parent, 'the same k-fold folder goes on');
    const resumed = readJson(path.join(parent, 'summary.json')) as Summary;
    assert.equal(resumed.status, 'completed');
    // The folds that had finished are the same runs, not run again.
    for (const run of finished)
      assert.ok(
        resumed.folds.some((f) => f.run === run),
        `${run} kept`,
      );
    assert.deepEqual(resumed.metrics, reference!.metrics);
  });

  it('bad folds on the command line or in the file: a message where it was asked, a non-zero exit, no stack trace, nothing run', async () => {
    const swept = write(
      dir,
      'swept.yaml',
      `${pipeline()}sweep:\n  parameters:\n    train.batchSize: { values: [4, 8] }\n`,
    );
    const cases: { name: string; args: string[]; code: number; message: RegExp }[] = [
      {
        name: '--folds 1',
        args: ['run', file, '--folds', '1'],
        code: 2,
        message: /--folds takes a number of folds from 2 to 20, got '1'/,
      },
      {
        name: '-j 0',
        args: ['run', file, '--folds', '3', '-j', '0'],
        code: 2,
        message: /-j takes a number of folds at once from 1 to 64/,
      },
      {
        name: 'more folds than examples',
        args: ['run', file, '--folds', '7', '--set', 'dataset.limit.perClass=2'],
        code: 1,
        message:
          /--folds 7: error: evaluate.folds: 7 folds need at least 7 examples in train\+validation, and this pipeline has 6/,
      },
      {
        name: '-j without folds',
        args: ['run', file, '-j', '3'],
        code: 2,
        message:
          /-j runs the folds of a k-fold cross-validation at once, and this run has none: add --folds k .*'tlpipe sweep -j'/,
      },
      {
        name: 'a fold without folds',
        args: ['run', file, '--set', 'evaluate.fold=2'],
        code: 1,
        message: /--set evaluate.fold=2: error: .*sets no `evaluate.folds`/,
      },
      {
        name: 'a sweep of k-fold runs',
        args: ['sweep', swept, '--set', 'evaluate.folds=3'],
        code: 1,
        message: /asks for 3-fold cross-validation \(evaluate.folds\), and a sweep's trials are single runs/,
      },
    ];
    // Nothing trains: the cases run side by side.
    const results = await Promise.all(cases.map((c) => tlpipe([...c.args, '--runs', runs('bad')], dir)));
    for (const [i, c] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, c.code, `${c.name}: ${r.stderr}`);
      assert.match(unwrapped(r.stderr), c.message, c.name);
      assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    }
    assert.equal(existsSync(runs('bad')), false, 'nothing was written');
  });

  it('the library: run() refuses a k-fold pipeline rather than pose as its cross-validation; stratifiedFolds is exported', async () => {
    const result = await run({ yaml: pipeline(), path: file }, { overrides: [{ path: 'evaluate.folds', value: 3 }] });
    assert.equal(result.ok, false);
    assert.equal(result.value, undefined, 'no run folder');
    assert.match(
      result.diagnostics[0]!.message,
      /asks for 3-fold cross-validation \(evaluate.folds\), which is 3 runs, not one/,
    );
    assert.match(result.diagnostics[0]!.hint!, /crossValidate\(\)/);
    assert.deepEqual(stratifiedFolds([0, 0, 1, 1], 2, 1).sort(), [0, 0, 1, 1]);
  });

  it('a fold that fails marks the k-fold run failed, with the fold and its reason', async () => {
    // The penalty overflows the loss at the first batch: a failure of every fold's own run, not a crash.
    const failing = write(dir, 'failing.yaml', pipeline(2, ', kernelRegularizer: { l2: 1.0e+38 }'));
    const r = await tlpipe(['run', failing, '--folds', '2', '-j', '2', '--runs', runs('failing')], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    assert.match(unwrapped(r.stderr), /fold 1 failed: .*the loss became Infinity/);
    const summary = readJson(path.join(kfoldDir(runs('failing')), 'summary.json')) as Summary;
    assert.equal(summary.status, 'failed');
    assert.match(summary.error!, /^fold 1 failed: .*the loss became Infinity/);
    assert.deepEqual(summary.metrics, {});
  });
});
