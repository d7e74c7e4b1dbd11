import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { hasStackTrace, readJson, tlpipe, workspace, write, writeDigitImageFolder } from './cli-harness.js';

const PIPELINE = `name: digits
dataset:
  format: imageFolder
  dir: digits
  test: 0.25
  onBadFile: skip
  image: { size: [32, 32], fit: contain }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 2, batchSize: 8 }
`;

describe('tlpipe run and tlpipe data on an image folder of real digits', () => {
  const dir = workspace('folder-run');
  let files: string[] = [];
  before(async () => {
    files = await writeDigitImageFolder(path.join(dir, 'digits'), 8, ['png', 'jpg', 'webp', 'gif']);
    writeFileSync(files[2]!, readFileSync(files[2]!).subarray(0, 30));
    writeFileSync(path.join(dir, 'digits', 'seven', 'notes.txt'), 'not an image');
    write(dir, 'digits.yaml', PIPELINE);
  });

  it('data reports counts per split, image sizes, skipped and ignored files', async () => {
    const r = await tlpipe(['data', 'digits.yaml', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.classNames, ['one', 'seven', 'zero']);
    assert.deepEqual(report.counts.test, [2, 2, 2]);
    assert.equal(
      report.counts.train.reduce((a: number, b: number) => a + b, 0) +
        report.counts.validation.reduce((a: number, b: number) => a + b, 0),
      17,
    );
    assert.deepEqual(report.sourceSize.width, { min: 28, median: 28, max: 28 });
    assert.deepEqual(
      report.skipped.map((s: { file: string }) => s.file),
      [files[2]],
    );
    assert.deepEqual(
      report.ignored.map((s: { reason: string }) => s.reason),
      ['not an image'],
    );
    const table = await tlpipe(['data', 'digits.yaml'], dir);
    assert.match(table.stdout, /^zero +\d+ +\d+ +2$/m);
    assert.match(table.stdout, /skipped \(cannot be decoded\): 1/);
  });

  it('run trains, lists the skipped file in summary.json and log.txt, and uses the folder names as labels', async () => {
    const r = await tlpipe(['run', 'digits.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(hasStackTrace(r.stderr), false);
    const runs = path.join(dir, 'runs', 'digits');
    const runDir = path.join(
      runs,
      readdirSync(runs).find((n) => n.startsWith('0001-'))!,
    );
    const summary = readJson(path.join(runDir, 'summary.json'));
    // Named from the pipeline's folder: summary.json holds no path of this machine.
    assert.deepEqual(
      summary.data.skipped.map((s: { file: string }) => s.file),
      [path.relative(dir, files[2]!)],
    );
    assert.equal(summary.data.ignored, 1);
    assert.deepEqual(summary.data.counts, { train: 14, validation: 3, test: 6 });
    assert.deepEqual(readJson(path.join(runDir, 'model/labels.json')), ['one', 'seven', 'zero']);
    assert.equal(readJson(path.join(runDir, 'model/preprocessing.json')).fit, 'contain');
    assert.match(
      readFileSync(path.join(runDir, 'log.txt'), 'utf8'),
      new RegExp(`warning: skipped ${files[2]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    const probe = readJson(path.join(runDir, 'model/probe.json'));
    assert.ok(
      probe.examples.every((f: string) => f.startsWith(path.join(dir, 'digits'))),
      'probe names its image files',
    );
  });

  it('predict prepares images exactly as training did: it reproduces the exported probe outputs', async () => {
    const runDir = path.join(
      dir,
      'runs',
      'digits',
      readdirSync(path.join(dir, 'runs', 'digits')).find((n) => n.startsWith('0001-'))!,
    );
    const probe = readJson(path.join(runDir, 'model/probe.json'));
    const r = await tlpipe(['predict', runDir, ...probe.examples, '--top', '3', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const predictions = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      predictions.map((p: { file: string }) => p.file),
      probe.examples,
    );
    const labels: string[] = readJson(path.join(runDir, 'model/labels.json'));
    predictions.forEach((p: { top: { label: string; probability: number }[] }, i: number) => {
      const byLabel = labels.map((label) => p.top.find((t) => t.label === label)!.probability);
      assert.deepEqual(byLabel, probe.predictions[i]);
    });
    const text = await tlpipe(['predict', runDir, path.join(dir, 'digits', 'zero'), '--top', '1'], dir);
    assert.match(text.stdout, /zero.*: (one|seven|zero) \d+\.\d%$/m);
    // One missing and one undecodable image among good ones: each is reported, the rest are classified, exit 1.
    write(dir, 'broken.png', 'not a png');
    const good = probe.examples[0]!;
    const mixed = await tlpipe(['predict', runDir, 'nowhere.png', good, 'broken.png'], dir);
    assert.equal(mixed.code, 1);
    assert.match(mixed.stderr, /^nowhere.png: error: not found$/m);
    assert.match(mixed.stderr, /^broken.png: error: .*unsupported image format/m);
    assert.deepEqual(
      mixed.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(':')[0]),
      [good],
    );
  });

  it('evaluate --data scores the model on a folder of labelled images and rejects unknown classes', async () => {
    const runDir = path.join(
      dir,
      'runs',
      'digits',
      readdirSync(path.join(dir, 'runs', 'digits')).find((n) => n.startsWith('0001-'))!,
    );
    // The good files of two classes, in their class folders.
    const good = files.filter((f, i) => i !== 2 && !f.includes(`${path.sep}zero${path.sep}`));
    for (const f of good) {
      const to = path.join(dir, 'held', path.relative(path.join(dir, 'digits'), f));
      mkdirSync(path.dirname(to), { recursive: true });
      copyFileSync(f, to);
    }
    const r = await tlpipe(['evaluate', runDir, '--data', path.join(dir, 'held'), '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const metrics = JSON.parse(r.stdout);
    assert.equal(metrics.on, `${path.join(dir, 'held')} (${good.length} images)`);
    assert.deepEqual(metrics.confusionMatrix[2], [0, 0, 0], 'no zeros among the images');
    assert.equal(
      metrics.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0),
      metrics.examples,
    );
    assert.ok(
      // Named relative to the working folder, as the run's own test split's examples are.
      metrics.worst.every((w: { example: string }) => /^held\/(one|seven)\//.test(w.example)),
      JSON.stringify(metrics.worst[0]),
    );
    mkdirSync(path.join(dir, 'other', 'eight'), { recursive: true });
    copyFileSync(files[0]!, path.join(dir, 'other', 'eight', path.basename(files[0]!)));
    const unknown = await tlpipe(['evaluate', runDir, '--data', path.join(dir, 'other')], dir);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /class folder `eight` in .* is not one of the model's classes\n {2}hint: the model knows: one, seven, zero/,
    );
  });

  it('a second run with the same seed makes the same split and the same plan', async () => {
    const first = readJson(
      path.join(
        dir,
        'runs',
        'digits',
        readdirSync(path.join(dir, 'runs', 'digits')).find((n) => n.startsWith('0001-'))!,
        'model/probe.json',
      ),
    );
    const r = await tlpipe(['run', 'digits.yaml', '--quiet', '--no-cache'], dir);
    assert.equal(r.code, 0, r.stderr);
    const runs = readdirSync(path.join(dir, 'runs', 'digits'))
      .filter((n) => !n.startsWith('.'))
      .sort();
    assert.equal(runs[0]!.slice(5), runs[1]!.slice(5), 'same plan fingerprint');
    const second = readJson(path.join(dir, 'runs', 'digits', runs[1]!, 'model/probe.json'));
    assert.deepEqual(second.examples, first.examples);
  });

  it('with augmentation and balanced class weights, the base runs per batch and the run completes', async () => {
    write(
      dir,
      'augmented.yaml',
      PIPELINE.replace('name: digits', 'name: augmented')
        .replace(
          '  onBadFile: skip\n',
          '  onBadFile: skip\n  augment: { flipHorizontal: true, rotate: 15, zoom: 0.1, brightness: 0.1 }\n',
        )
        .replace('  stages:', '  classWeights: balanced\n  stages:'),
    );
    const plan = await tlpipe(['plan', 'augmented.yaml'], dir);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /features: the base runs on every batch, so features cannot be cached: augmentation/);
    // one lost its corrupt file: 4 training digits against 5 → 14 / (3 × 4) and 14 / (3 × 5).
    assert.match(plan.stdout, /class weights 1.167 0.933 0.933/);
    assert.match(plan.stdout, /augmented: flipHorizontal, rotate 15, zoom 0.1, brightness 0.1/);
    const r = await tlpipe(['run', 'augmented.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /^features /m, 'no feature extraction with augmentation');
  });

  it('a CSV of image paths and labels runs end to end', async () => {
    const rows = files.map(
      (f) => `"${path.relative(dir, f)}",${path.relative(path.join(dir, 'digits'), f).split(path.sep)[0]}`,
    );
    write(dir, 'labels.csv', ['file,digit', ...rows].join('\n') + '\n');
    write(
      dir,
      'csv.yaml',
      PIPELINE.replace('name: digits', 'name: fromcsv').replace(
        'format: imageFolder\n  dir: digits',
        'format: csv\n  file: labels.csv\n  labelColumn: digit\n  imageColumn: file',
      ),
    );
    const r = await tlpipe(['run', 'csv.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    const runs = path.join(dir, 'runs', 'fromcsv');
    const summary = readJson(
      path.join(
        runs,
        readdirSync(runs).find((n) => n.startsWith('0001-'))!,
        'summary.json',
      ),
    );
    assert.deepEqual(summary.classes, ['one', 'seven', 'zero']);
    // Named from the pipeline's folder: summary.json holds no path of this machine.
    assert.deepEqual(
      summary.data.skipped.map((s: { file: string }) => s.file),
      [path.relative(dir, files[2]!)],
    );
  });

  it('without onBadFile: skip, a corrupt file stops the run before training and is named', async () => {
    write(dir, 'strict.yaml', PIPELINE.replace('  onBadFile: skip\n', '').replace('name: digits', 'name: strict'));
    const r = await tlpipe(['run', 'strict.yaml'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^strict.yaml:4:8: error: dataset.dir: 1 image file cannot be decoded:/m);
    assert.ok(r.stderr.includes(files[2]!));
    assert.match(r.stderr, /hint: fix or remove them, or set `onBadFile: skip`/);
    assert.equal(hasStackTrace(r.stderr), false);
  });
});
