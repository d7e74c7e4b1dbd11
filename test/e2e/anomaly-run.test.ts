import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { parseIdx } from '../../src/engine/data/idx-file.js';
import { loadModel } from '../../src/api/index.js';
import { hasStackTrace, readJson, tlpipe, workspace, write } from './cli-harness.js';

const PIPELINE = `name: ones
seed: 5
backend: wasm
task: anomaly
dataset:
  format: mnist
  limit: { perClass: 12, testPerClass: 4 }
  validation: 0.25
  image: { size: [64, 64] }
base: { model: mobilenet_v2 }
anomaly: { normal: ['1'] }
`;

/** Real test digits as PNG files: `count` of each of `digits`, named d<digit>-<index>.png. */
async function writeTestDigits(dir: string, digits: number[], count: number): Promise<string[]> {
  const files = mnistFiles();
  const images = parseIdx(readFileSync(files.test.images));
  const labels = parseIdx(readFileSync(files.test.labels));
  const written: string[] = [];
  for (const digit of digits) {
    let n = 0;
    for (let i = labels.data.length - 1; i >= 0 && n < count; i--) {
      if (labels.data[i] !== digit) continue;
      const file = path.join(dir, `d${digit}-${i}.png`);
      await sharp(Buffer.from(images.data.subarray(i * 784, (i + 1) * 784)), {
        raw: { width: 28, height: 28, channels: 1 },
      })
        .png()
        .toFile(file);
      written.push(file);
      n++;
    }
  }
  return written;
}

describe('task: anomaly, end to end through the CLI on real digits', () => {
  const dir = workspace('anomaly');
  let runDir = '';
  before(async () => {
    write(dir, 'ones.yaml', PIPELINE);
    const planned = await tlpipe(['plan', 'ones.yaml'], dir);
    assert.equal(planned.code, 0, planned.stderr);
    assert.match(planned.stdout, /memory bank: block_6_expand_relu \+ block_13_expand_relu/);
    const ran = await tlpipe(['run', 'ones.yaml', '--runs', 'runs'], dir);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout + ran.stderr, /test AUROC \d\.\d{4}/);
    const [only] = readdirSync(path.join(dir, 'runs', 'ones')).filter((n) => /^\d{4}-/.test(n));
    runDir = path.join(dir, 'runs', 'ones', only!);
  });

  it('summary.json has AUROC, average precision and F1 at the threshold, well above chance on the ones', () => {
    const summary = readJson(path.join(runDir, 'summary.json'));
    assert.equal(summary.test.task, 'anomaly');
    assert.equal(summary.test.examples, 40);
    assert.equal(summary.test.normalExamples, 4);
    assert.ok(summary.test.auroc > 0.8, `AUROC ${summary.test.auroc}`);
    assert.ok(summary.test.averagePrecision > 0.8, `AP ${summary.test.averagePrecision}`);
    // F1 and accuracy are at the threshold, recomputed here from the confusion counts summary.json keeps.
    const { truePositives: tp, falsePositives: fp, falseNegatives: fn, trueNegatives: tn } = summary.test.atThreshold;
    assert.equal(tp + fp + fn + tn, 40);
    assert.ok(Math.abs(summary.test.f1 - (2 * tp) / (2 * tp + fp + fn)) < 1e-12, `F1 ${summary.test.f1}`);
    assert.ok(Math.abs(summary.test.accuracy - (tp + tn) / 40) < 1e-12, `accuracy ${summary.test.accuracy}`);
    assert.deepEqual(summary.stages, []);
    const report = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    assert.match(report, /test AUROC <b id="test-auroc">[01]\.\d{4}<\/b>/);
  });

  it('predict scores image files: ones normal more often than sevens, with score and threshold', async () => {
    const images = await writeTestDigits(dir, [1, 7], 3);
    const predicted = await tlpipe(['predict', runDir, ...images, '--json'], dir);
    assert.equal(predicted.code, 0, predicted.stderr);
    const rows = predicted.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const byDigit = (d: number) => rows.filter((r) => path.basename(r.file).startsWith(`d${d}-`));
    assert.equal(byDigit(1).length + byDigit(7).length, 6);
    const mean = (rs: any[]) => rs.reduce((s, r) => s + r.anomaly.score, 0) / rs.length;
    assert.ok(mean(byDigit(7)) > mean(byDigit(1)), `sevens ${mean(byDigit(7))} vs ones ${mean(byDigit(1))}`);
    for (const r of rows) {
      assert.equal(r.anomaly.anomalous, r.anomaly.score > r.anomaly.threshold);
      assert.equal(r.anomaly.heat.values.length, r.anomaly.heat.grid[0] * r.anomaly.heat.grid[1]);
    }
  });

  it('loadModel().score() in the library answers as predict does', async () => {
    const images = await writeTestDigits(dir, [7], 1);
    const loaded = await loadModel(runDir, { backend: 'wasm' });
    assert.ok(loaded.ok);
    try {
      assert.equal(loaded.value.task, 'anomaly');
      const { predictions } = await loaded.value.score(images);
      const cli = await tlpipe(['predict', runDir, images[0]!, '--json'], dir);
      assert.equal(JSON.parse(cli.stdout.trim()).anomaly.score, predictions[0]!.anomaly!.score);
    } finally {
      loaded.value.dispose();
    }
  });

  it('evaluate re-scores the run on its test split: the AUROC, average precision, F1 and accuracy of summary.json', async () => {
    const { test } = readJson(path.join(runDir, 'summary.json'));
    const r = await tlpipe(['evaluate', runDir, '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const evaluated = JSON.parse(r.stdout);
    assert.equal(evaluated.task, 'anomaly');
    assert.equal(evaluated.on, 'its test split (40 images)');
    // The same model and bank on the same images through the same scoring: equal, not close.
    for (const key of ['auroc', 'averagePrecision', 'f1', 'accuracy', 'examples', 'normalExamples'])
      assert.equal(evaluated[key], test[key], key);
    assert.deepEqual(evaluated.atThreshold, test.atThreshold);
    assert.deepEqual(evaluated.perClass, test.perClass);
    assert.deepEqual(evaluated.normalClasses, ['1']);
    assert.deepEqual(evaluated.unseenClasses, []);
  });

  it('evaluate --data scores class folders by the normal classes the model records; a class it never saw counts as anomalous, and is said to', async () => {
    const data = path.join(dir, 'folders');
    for (const [folder, digit] of [
      ['1', 1],
      ['7', 7],
      ['sevens-unseen', 7],
    ] as const) {
      mkdirSync(path.join(data, folder), { recursive: true });
      await writeTestDigits(path.join(data, folder), [digit], 2);
    }
    const out = path.join(dir, 'evaluated');
    const r = await tlpipe(['evaluate', runDir, '--data', data, '--out', out], dir);
    assert.equal(r.code, 0, r.stderr);
    const written = readJson(path.join(out, 'evaluation.json'));
    assert.equal(written.on, `${data} (6 images)`);
    assert.deepEqual([written.normalExamples, written.anomalousExamples], [2, 4]);
    assert.deepEqual(written.normalClasses, ['1']);
    assert.deepEqual(written.unseenClasses, ['sevens-unseen']);
    assert.deepEqual(
      Object.entries(written.perClass as Record<string, { normal: boolean }>).map(([c, v]) => [c, v.normal]),
      [
        ['1', true],
        ['7', false],
        ['sevens-unseen', false],
      ],
    );
    assert.match(r.stdout, new RegExp(`^AUROC ${written.auroc.toFixed(4)}  average precision `, 'm'));
    assert.match(r.stdout, /^ {2}sevens-unseen +unseen +2 /m);
    assert.match(r.stdout, /not among the run's classes, so scored as anomalous: sevens-unseen/);
  });

  const BAD_DATA: { name: string; make: (data: string) => void; says: RegExp; scored: boolean }[] = [
    {
      name: 'a file that is not an image: named, left out, the rest scored',
      make: (data) => writeFileSync(path.join(data, '7', 'broken.png'), 'not a png'),
      says: /7\/broken\.png: error: cannot be decoded/,
      scored: true,
    },
    {
      name: 'a folder that does not exist',
      make: (data) => rmSync(data, { recursive: true }),
      says: /image folder .*bad-1: /,
      scored: false,
    },
  ];
  for (const c of BAD_DATA) {
    it(`evaluate --data with ${c.name}: exit 1, no stack trace`, async () => {
      const data = path.join(dir, `bad-${BAD_DATA.indexOf(c)}`);
      mkdirSync(path.join(data, '7'), { recursive: true });
      await writeTestDigits(path.join(data, '7'), [7], 1);
      c.make(data);
      const r = await tlpipe(['evaluate', runDir, '--data', data], dir);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, c.says);
      assert.ok(!hasStackTrace(r.stderr), r.stderr);
      if (c.scored) assert.match(r.stdout, /\(1 image, 1 that cannot be decoded left out\)/);
      else assert.equal(r.stdout, '');
    });
  }

  it('a model folder exported before its header recorded the classes: evaluated from its run’s plan.json; alone, refused by name', async () => {
    const old = path.join(dir, 'old-run');
    cpSync(runDir, old, { recursive: true });
    const header = path.join(old, 'model', 'memory-bank.json');
    const { classes, ...older } = readJson(header);
    assert.deepEqual(classes, { names: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], normal: ['1'] });
    writeFileSync(header, JSON.stringify(older));
    const inRun = await tlpipe(['evaluate', old, '--json'], dir);
    assert.equal(inRun.code, 0, inRun.stderr);
    assert.equal(JSON.parse(inRun.stdout).auroc, readJson(path.join(runDir, 'summary.json')).test.auroc);
    const alone = path.join(dir, 'old-model');
    cpSync(path.join(old, 'model'), alone, { recursive: true });
    const refused = await tlpipe(['evaluate', alone, '--data', path.join(dir, 'folders')], dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /memory-bank\.json does not record which classes are normal/);
    assert.ok(!hasStackTrace(refused.stderr), refused.stderr);
  });

  const CLASSIFIER_ONLY: { command: string; args: (run: string) => string[]; says: RegExp }[] = [
    {
      command: 'explain',
      args: (run) => ['explain', run, path.join(dir, 'none.png')],
      says: /explains its scores with heat maps of patch distances, not Grad-CAM/,
    },
  ];
  for (const c of CLASSIFIER_ONLY) {
    it(`${c.command}, which classifies, refuses an anomaly run and says what to use`, async () => {
      const refused = await tlpipe(c.args(runDir), dir);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, c.says);
      assert.ok(!hasStackTrace(refused.stderr), refused.stderr);
    });
  }

  it('a flipped byte in the memory bank is refused by name, with no stack trace', async () => {
    const images = await writeTestDigits(dir, [1], 1);
    const bank = path.join(runDir, 'model', 'memory-bank.bin');
    const bytes = readFileSync(bank);
    bytes[100] = bytes[100]! ^ 0x40;
    writeFileSync(bank, bytes);
    const predicted = await tlpipe(['predict', runDir, images[0]!], dir);
    assert.notEqual(predicted.code, 0);
    assert.match(predicted.stderr, /memory-bank\.bin/);
    assert.ok(!hasStackTrace(predicted.stderr), predicted.stderr);
  });
});
