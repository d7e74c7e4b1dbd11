import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { parseIdx } from '../../src/engine/data/idx-file.js';
import { DIGIT_FOLDERS, readJson, tlpipe, workspace, write, writeDigitImageFolder } from './cli-harness.js';

/** The training set's digit classes (writeDigitImageFolder's): target digits are of the same classes, so only their look can differ. */
const CLASSES: ReadonlySet<number> = new Set(Object.values(DIGIT_FOLDERS));

/** How a target image differs from MNIST's own digits. */
type Look = 'as-is' | 'inverted';

/**
 * Writes `count` real MNIST test digits (not the training ones) of the
 * training classes as PNG files, as the training digits are written: as they are (the same domain as
 * training), or inverted (white background, dark strokes: another domain).
 */
async function writeTargetDigits(dir: string, count: number, look: Look): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const files = mnistFiles();
  const images = parseIdx(readFileSync(files.test.images));
  const labels = parseIdx(readFileSync(files.test.labels));
  const chosen = [...labels.data.keys()].filter((i) => CLASSES.has(labels.data[i]!)).slice(0, count);
  for (const i of chosen) {
    const pixels = Buffer.from(images.data.subarray(i * 784, (i + 1) * 784));
    const image = sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } });
    await (look === 'inverted' ? image.negate() : image).png().toFile(path.join(dir, `${i}.png`));
  }
}

const pipeline = (target: string): string => `name: shift
seed: 1
backend: wasm
dataset: { format: imageFolder, dir: digits, validation: 0.2, image: { size: [32, 32] } }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1 }
adapt: { images: ${target}, method: adabn }
`;

describe('the domain shift between training and target images', () => {
  const dir = workspace('tlpipe-shift-');
  // PNG for both domains: the same decoder and resize, so only the digits' look differs (IDX digits are resized by another kernel, which the base tells apart too).
  before(() => writeDigitImageFolder(path.join(dir, 'digits'), 20, ['png']));

  for (const { name, look, check } of [
    {
      name: 'inverted digits are another domain: the classifier tells them apart',
      look: 'inverted' as const,
      check: (auroc: number) => assert.ok(auroc > 0.8, `AUROC ${auroc}, expected > 0.8`),
    },
    {
      name: "MNIST's own test digits are the training domain: near chance",
      look: 'as-is' as const,
      check: (auroc: number) => assert.ok(Math.abs(auroc - 0.5) < 0.2, `AUROC ${auroc}, expected near 0.5`),
    },
  ])
    it(`tlpipe data --json: ${name}`, async () => {
      await writeTargetDigits(path.join(dir, look), 40, look);
      write(dir, `${look}.yaml`, pipeline(look));
      const data = await tlpipe(['data', `${look}.yaml`, '--json'], dir);
      assert.equal(data.code, 0, data.stderr);
      const report = JSON.parse(data.stdout);
      assert.equal(report.domainShift.method, 'adabn');
      assert.equal(report.domainShift.target, 40);
      assert.equal(report.domainShift.train, 48);
      assert.equal(report.domainShift.features, 'block_2_add pooled');
      check(report.domainShift.before.auroc);
      // adapt.method adabn: the shift after AdaBN too, on the same images.
      assert.equal(report.domainShift.after.by, 'adabn');
      assert.ok(report.domainShift.after.auroc >= 0 && report.domainShift.after.auroc <= 1);
      if (look === 'as-is') return;
      const text = await tlpipe(['data', `${look}.yaml`], dir);
      assert.equal(text.code, 0, text.stderr);
      assert.match(
        text.stdout.replace(/\s+/g, ' '),
        /domain shift before adaptation \(adapt\.method adabn\): AUROC \d\.\d{3} .*; after AdaBN: AUROC \d\.\d{3}/,
      );
    });

  it("with dataset.source the shift is measured on the pipeline's own training images only", async () => {
    await writeTargetDigits(path.join(dir, 'inverted'), 40, 'inverted');
    // The training digits again as the source: 60 more training examples, none of them measured.
    write(
      dir,
      'with-source.yaml',
      pipeline('inverted').replace(
        'image: { size: [32, 32] } }',
        'image: { size: [32, 32] }, source: { format: imageFolder, dir: digits, weight: 0.3 } }',
      ),
    );
    const data = await tlpipe(['data', 'with-source.yaml', '--json'], dir);
    assert.equal(data.code, 0, data.stderr);
    const report = JSON.parse(data.stdout);
    assert.equal(
      report.source.perClass.reduce((a: number, b: number) => a + b, 0),
      60,
    );
    assert.deepEqual([report.domainShift.train, report.domainShift.target], [48, 40]);
    const plan = await tlpipe(['plan', 'with-source.yaml'], dir);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout.replace(/\s+/g, ' '), /48 training vs 40 target images/);
  });

  it('a run records the shift before and after adaptation in summary.json and its report', async () => {
    const run = await tlpipe(['run', 'inverted.yaml'], dir);
    assert.equal(run.code, 0, run.stderr);
    const runs = path.join(dir, 'runs', 'shift');
    const id = readdirSync(runs)
      .filter((f) => /^\d{4}-/.test(f))
      .sort()
      .at(-1)!;
    const summary = readJson(path.join(runs, id, 'summary.json'));
    assert.ok(summary.domainShift.before.auroc > 0.8, JSON.stringify(summary.domainShift));
    assert.equal(typeof summary.domainShift.after.auroc, 'number');
    assert.deepEqual([summary.domainShift.train, summary.domainShift.target], [48, 40]);
    const log = readFileSync(path.join(runs, id, 'log.txt'), 'utf8');
    assert.match(log, /domain shift before adaptation: AUROC/);
    // `tlpipe data` ran first and trained nothing: its target pass is not kept under the run's keys, which cover the stages.
    assert.match(log, /statistics on 40 target images for the evaluation and the export in/);
    assert.match(log, /domain shift after adaptation: AUROC/);
    const report = readFileSync(path.join(runs, id, 'report.html'), 'utf8');
    assert.match(report, /<h2>Domain shift<\/h2>/);
    assert.match(report, new RegExp(`id="shift-before">${summary.domainShift.before.auroc.toFixed(3)}<`));
  });

  it('a sweep over adapt.limit reads each trial its own target images', async () => {
    write(
      dir,
      'sweep-limit.yaml',
      `${pipeline('inverted')}sweep:\n  parameters:\n    adapt.limit: { values: [10, 40] }\n`,
    );
    const planned = await tlpipe(['plan', 'sweep-limit.yaml'], dir);
    assert.equal(planned.code, 0, planned.stderr);
    const plans = Object.fromEntries(
      [...planned.stdout.matchAll(/^\d+\s+(10|40)\s+([0-9a-f]{8})\s/gm)].map((m) => [m[1]!, m[2]!]),
    );
    // Read once for both, the second trial would plan on the first one's 10 images: the same fingerprint.
    assert.ok(plans['10'] && plans['40'] && plans['10'] !== plans['40'], planned.stdout);
  });
});
