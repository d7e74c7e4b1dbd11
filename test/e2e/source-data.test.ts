import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadInput } from '../../src/api/pipeline-input.js';
import { loadInputs } from '../../src/engine/facts/read-inputs.js';
import {
  epochRows,
  hasStackTrace,
  readJson,
  tlpipe,
  unwrapped,
  workspace,
  write,
  writeDigitImageFolder,
  writeMnistSubsetIdx,
  type CliResult,
} from './cli-harness.js';

/**
 * `dataset.source` end to end on real digits: a small labelled target (5
 * MNIST digits of each of 0–7, the MNIST test set's digits as its test
 * split) and a source of more real digits as image files (zero, one, seven,
 * and a `nine` the pipeline has no class for), mapped by labelMap.
 */
const TARGET = `  format: idx
  train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }
  test: { images: test-images-idx3-ubyte.gz, labels: test-labels-idx1-ubyte.gz }
  image: { size: [32, 32] }`;
const SOURCE = `  source:
    format: imageFolder
    dir: digits
    weight: 0.3
    decay: 0.5
    labelMap: { zero: '0', one: '1', seven: '7' }`;
const pipeline = (dataset: string): string => `name: source
seed: 1
backend: wasm
dataset:
${dataset}
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 2 }
`;
const OWN_PER_CLASS = 5;
const SOURCE_PER_CLASS = 12;
const NINES = 3;

let dir: string;
const runDir = (result: CliResult): string => {
  const match = /runs\/source\/\d{4}-[0-9a-f]{8}/.exec(result.stdout + result.stderr);
  assert.ok(match, `no run folder in:\n${result.stdout}${result.stderr}`);
  return path.join(dir, match[0]);
};
const ok = (result: CliResult): CliResult => {
  assert.equal(result.code, 0, result.stdout + result.stderr);
  return result;
};

before(async () => {
  dir = workspace('tlpipe-source-');
  writeMnistSubsetIdx(dir, OWN_PER_CLASS, 8);
  const digits = path.join(dir, 'digits');
  mkdirSync(digits);
  // MNIST's first digits of each class are the pipeline's own: the source holds the ones after them.
  const written = await writeDigitImageFolder(digits, OWN_PER_CLASS + SOURCE_PER_CLASS, ['png']);
  for (let c = 0; c < 3; c++)
    for (const file of written.slice(
      c * (OWN_PER_CLASS + SOURCE_PER_CLASS),
      c * (OWN_PER_CLASS + SOURCE_PER_CLASS) + OWN_PER_CLASS,
    ))
      rmSync(file);
  // A class the pipeline does not have: left out, and said so.
  mkdirSync(path.join(digits, 'nine'));
  for (const file of readdirSync(path.join(digits, 'seven'))
    .filter((f) => f.endsWith('.png'))
    .slice(0, NINES))
    cpSync(path.join(digits, 'seven', file), path.join(digits, 'nine', file));
  write(dir, 'own.yaml', pipeline(TARGET));
  write(dir, 'with-source.yaml', pipeline(`${TARGET}\n${SOURCE}`));
  write(
    dir,
    'sweep.yaml',
    `${pipeline(`${TARGET}\n${SOURCE}`)}sweep:\n  parameters:\n    dataset.source.weight: { values: [0, 0.3] }\n`,
  );
});

describe('dataset.source: a second labelled dataset trains beside the pipeline’s own', () => {
  let own: string;
  before(async () => {
    own = runDir(ok(await tlpipe(['run', 'own.yaml', '--no-cache'], dir)));
  });

  it('weight 0 leaves the source out: the same plan fingerprint, the same metrics bit for bit', async () => {
    const nothing = runDir(
      ok(await tlpipe(['run', 'with-source.yaml', '--set', 'dataset.source.weight=0', '--no-cache'], dir)),
    );
    assert.equal(path.basename(nothing).slice(5), path.basename(own).slice(5));
    assert.deepEqual(
      readJson(path.join(nothing, 'plan.json')).fingerprint,
      readJson(path.join(own, 'plan.json')).fingerprint,
    );
    assert.deepEqual(epochRows(nothing), epochRows(own));
    assert.deepEqual(readJson(path.join(nothing, 'summary.json')).test, readJson(path.join(own, 'summary.json')).test);
    assert.equal(readJson(path.join(nothing, 'summary.json')).source, undefined);
  });

  it('weight 0.3 with decay: training only, the block in summary.json, each epoch’s shares in metrics and the report', async () => {
    const result = ok(await tlpipe(['run', 'with-source.yaml'], dir));
    const run = runDir(result);
    const summary = readJson(path.join(run, 'summary.json'));
    const ownSummary = readJson(path.join(own, 'summary.json'));
    const sourceExamples = 3 * SOURCE_PER_CLASS;
    assert.deepEqual(summary.source, {
      examples: sourceExamples,
      perClass: { 0: SOURCE_PER_CLASS, 1: SOURCE_PER_CLASS, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: SOURCE_PER_CLASS },
      mapped: [
        { from: 'one', to: '1' },
        { from: 'seven', to: '7' },
        { from: 'zero', to: '0' },
      ],
      dropped: ['nine'],
      weight: 0.3,
      decay: 0.5,
    });
    // Validation and test are the pipeline's own, example for example; only training grew.
    assert.deepEqual(summary.data.counts, {
      ...ownSummary.data.counts,
      train: ownSummary.data.counts.train + sourceExamples,
    });
    const examples = readJson(path.join(run, 'examples.json'));
    const shown = [...summary.test.worst, ...examples.worst].map((w: { example: string }) => w.example);
    assert.ok(shown.length > 0);
    assert.ok(
      shown.every((name) => !name.includes('digits')),
      shown.join(', '),
    );
    // Epoch e: the source's 36 examples weigh 0.3 × 0.5^(e−1) each, the pipeline's own 1.
    const ownTrain = ownSummary.data.counts.train;
    const rows = epochRows(run);
    assert.equal(rows.length, 2);
    rows.forEach((row, e) => {
      const weight = sourceExamples * 0.3 * 0.5 ** e;
      assert.ok(Math.abs((row['sourceShare'] as number) - sourceExamples / (ownTrain + sourceExamples)) < 1e-9);
      assert.ok(Math.abs((row['sourceWeightShare'] as number) - weight / (weight + ownTrain)) < 1e-6);
    });
    const percent = (share: number): string => `${(share * 100).toFixed(0)}%`;
    const firstWeight = sourceExamples * 0.3;
    assert.ok(
      unwrapped(result.stdout + result.stderr).includes(
        `source ${percent(sourceExamples / (ownTrain + sourceExamples))} of examples, ${percent(firstWeight / (firstWeight + ownTrain))} of weight`,
      ),
      result.stderr,
    );
    const report = readFileSync(path.join(run, 'report.html'), 'utf8');
    assert.match(report, /id="source-data">The training split held <b>36<\/b> source examples/);
    assert.match(report, /Left out \(no matching class\): nine/);
    assert.equal((report.match(/<tr><td>\d+<\/td><td>[\d.]+%<\/td><td>[\d.]+%<\/td><\/tr>/g) ?? []).length, 2);
  });

  it('a run’s inputs hold the source at the end of the training selection, and never in validation or test', async () => {
    const loaded = loadInput(path.join(dir, 'with-source.yaml'));
    assert.ok(loaded.ok);
    const inputs = await loadInputs(loaded.value.spec, { backend: 'cpu' });
    assert.ok(inputs.ok);
    const { selection, source, dataset } = inputs.value;
    assert.ok(source);
    const first = dataset.train.count - source.split.count;
    assert.ok([...selection.validation].every((i) => i < first));
    assert.deepEqual(
      selection.train.slice(source.from),
      Array.from({ length: source.split.count }, (_, i) => first + i),
    );
    assert.ok(selection.train.slice(0, source.from).every((i) => i < first));
    assert.ok(
      selection.train.slice(source.from).every((i) => dataset.train.name(i).includes(`${path.sep}digits${path.sep}`)),
    );
  });

  it('tlpipe plan and tlpipe data say what the source adds, and what is left out', async () => {
    const planned = unwrapped(ok(await tlpipe(['plan', 'with-source.yaml'], dir)).stdout);
    assert.match(planned, /68 train \(32 own \+ 36 source\) \/ 8 validation \/ 40 test/);
    assert.match(planned, /source: 36 training examples \(0 12, 1 12, 7 12\), weight 0\.3, × 0\.5 per epoch/);
    assert.match(planned, /left out \(no matching class\): nine/);
    // classWeights: balanced evens out each class's loss weight: 4 own examples of each class, plus 12 × 0.3 for 0, 1 and 7.
    const balanced = JSON.parse(
      ok(await tlpipe(['plan', 'with-source.yaml', '--set', 'train.classWeights=balanced', '--json'], dir)).stdout,
    ) as { stages: { classWeights: number[] }[] };
    const weighs = [0, 1, 2, 3, 4, 5, 6, 7].map((c) => 4 + ([0, 1, 7].includes(c) ? SOURCE_PER_CLASS * 0.3 : 0));
    const total = weighs.reduce((a, b) => a + b, 0);
    balanced.stages[0]!.classWeights.forEach((w, c) => assert.ok(Math.abs(w - total / (8 * weighs[c]!)) < 1e-6));
    const data = unwrapped(ok(await tlpipe(['data', 'with-source.yaml'], dir)).stdout);
    assert.match(data, /source \(imageFolder\): 36 examples join the training split only \(0 12, 1 12, 7 12\)/);
    assert.match(data, /left out \(no matching class\): nine/);
  });

  it('a sweep over dataset.source.weight plans each weight apart, and its weight-0 trial is the run without the source', async () => {
    const planned = ok(await tlpipe(['plan', 'sweep.yaml'], dir)).stdout;
    const plans = Object.fromEntries(
      [...planned.matchAll(/^\d+\s+(0|0\.3)\s+([0-9a-f]{8})\s/gm)].map((m) => [m[1]!, m[2]!]),
    );
    assert.equal(plans['0'], path.basename(own).slice(5), planned);
    assert.ok(plans['0.3'] && plans['0.3'] !== plans['0'], planned);
  });

  it('tlpipe audit audits the source’s examples as training examples', async () => {
    const audited = ok(await tlpipe(['audit', 'with-source.yaml'], dir));
    assert.match(audited.stdout, /train\/test leaks: \d+ exact/);
  });

  const refusals: { name: string; args: string[]; says: RegExp }[] = [
    {
      name: 'a labelMap to a class the pipeline lacks',
      args: ['--set', 'dataset.source.labelMap={ zero: nought }'],
      says: /labelMap maps `zero` to `nought`, which is not one of the pipeline's classes/,
    },
    {
      name: 'a source none of whose classes map',
      args: ['--set', 'dataset.source.labelMap={}'],
      says: /none of the source's classes \(nine, one, seven, zero\) is one of the pipeline's/,
    },
    {
      name: 'k-fold cross-validation',
      args: ['--folds', '3'],
      says: /k-fold cross-validation is not available with `dataset.source`/,
    },
  ];
  for (const c of refusals)
    it(`refuses ${c.name}: a message at its key, no stack trace`, async () => {
      const result = await tlpipe(['plan', 'with-source.yaml', ...c.args], dir);
      assert.notEqual(result.code, 0);
      assert.match(unwrapped(result.stderr + result.stdout), c.says);
      assert.ok(!hasStackTrace(result.stderr + result.stdout));
    });
});
