import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

  const CLASSIFIER_ONLY: { command: string; args: (run: string) => string[]; says: RegExp }[] = [
    {
      command: 'evaluate',
      args: (run) => ['evaluate', run],
      says: /is an anomaly model \(task: anomaly\).*tlpipe predict/s,
    },
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
