import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadModel } from '../../src/api/index.js';
import { packageRoot } from '../../src/package/package-root.js';
import { hasStackTrace, readJson, tlpipeBounded, workspace, write } from './cli-harness.js';

const FIXTURE = path.join(packageRoot(), 'test', 'fixtures', 'segmentation', 'textures');
const CLASSES = readFileSync(path.join(FIXTURE, 'classes.txt'), 'utf8').trim().split('\n');

/** The zoo's mobilenet_v2 encoder with a small U-Net decoder (2 skips), at 64×64: frozen, then fine-tuned. */
const PIPELINE = `name: textures
task: segmentation
seed: 3
dataset:
  format: segmentationFolder
  images: ${path.join(FIXTURE, 'images')}
  masks: ${path.join(FIXTURE, 'masks')}
  classes: [${CLASSES.join(', ')}]
  test: 0.25
  validation: 0.2
  augment: { flipHorizontal: true }
  image: { size: [64, 64] }
base: { model: mobilenet_v2, cut: block_13_expand_relu }
head:
  - upsample: { filters: 32, size: 3 }
  - concatenate: { with: block_6_expand_relu }
  - upsample: { filters: 16, size: 3 }
  - concatenate: { with: block_3_expand_relu }
  - upsample: { filters: 16, size: 3 }
  - conv2dTranspose: { filters: classes, kernelSize: 3, strides: 2, padding: same }
train:
  batchSize: 4
  checkpoints: { monitor: val_meanIoU }
  stages:
    - { name: decoder, epochs: 1, optimizer: { learningRate: 0.001 } }
    - { name: fine-tune, epochs: 1, unfreeze: [all], optimizer: { learningRate: 0.0001 } }
`;

/** Generous: the run itself takes ~15 s alone; two suites share two cores. */
const BOUND_MS = 300_000;

describe('task: segmentation through the CLI on the texture fixture', () => {
  const dir = workspace('segmentation');
  let runDir = '';
  before(async () => {
    write(dir, 'textures.yaml', PIPELINE);
    const r = await tlpipeBounded(['run', 'textures.yaml'], dir, { timeoutMs: BOUND_MS });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(hasStackTrace(r.stderr), false);
    assert.match(r.stdout, /test mean IoU \d\.\d{4}/);
    const runs = readdirSync(path.join(dir, 'runs', 'textures')).filter((name) => /^\d{4}-/.test(name));
    assert.equal(runs.length, 1);
    runDir = path.join(dir, 'runs', 'textures', runs[0]!);
  });

  it('summary.json has the test split scored per pixel and per class, the worst images first', () => {
    const { test } = readJson(path.join(runDir, 'summary.json'));
    assert.equal(test.task, 'segmentation');
    assert.equal(test.examples, 2);
    for (const key of ['loss', 'pixelAccuracy', 'meanIoU']) assert.ok(Number.isFinite(test[key]), key);
    assert.ok(test.meanIoU >= 0 && test.meanIoU <= 1);
    assert.deepEqual(Object.keys(test.perClass), CLASSES);
    const pixels = Object.values(test.perClass as Record<string, { pixels: number }>).reduce((a, c) => a + c.pixels, 0);
    assert.equal(pixels, 2 * 64 * 64);
    assert.equal(test.worst.length, 2);
    assert.ok(test.worst[0].meanIoU <= test.worst[1].meanIoU);
  });

  it('every epoch records the validation mean IoU, and the report shows IoU per class and the worst masks', () => {
    const rows = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 2);
    for (const row of rows) assert.ok(row.val_meanIoU >= 0 && row.val_meanIoU <= 1, JSON.stringify(row));
    const report = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    assert.match(report, /id="test-mean-iou"/);
    assert.match(report, /id="class-iou"/);
    assert.equal((report.match(/alt="(true|predicted) mask of /g) ?? []).length, 4);
    assert.equal(readJson(path.join(runDir, 'masks.json')).length, 2);
  });

  it('the exported model gives [64, 64, classes], with labels.json and the demo page that draws masks', () => {
    const model = readJson(path.join(runDir, 'model', 'model.json'));
    assert.ok(JSON.stringify(model.modelTopology).includes('Conv2DTranspose'));
    assert.deepEqual(readJson(path.join(runDir, 'model', 'labels.json')), CLASSES);
    assert.match(readFileSync(path.join(runDir, 'model', 'index.html'), 'utf8'), /<canvas id="mask">/);
  });

  it('predict --out writes a mask PNG per image of class indexes, and prints class fractions (--json too)', async () => {
    const images = ['0000.jpg', '0005.jpg'].map((f) => path.join(FIXTURE, 'images', f));
    const out = path.join(dir, 'masks');
    const r = await tlpipeBounded(['predict', runDir, ...images, '--out', out, '--json'], dir, { timeoutMs: BOUND_MS });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    for (const [i, p] of lines.entries()) {
      assert.equal(p.file, images[i]);
      const fractions = Object.values(p.segmentation.fractions as Record<string, number>);
      assert.equal(fractions.length, CLASSES.length);
      assert.ok(Math.abs(fractions.reduce((a, b) => a + b, 0) - 1) < 1e-9);
      const meta = await sharp(p.segmentation.mask).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 64, 64, 1]);
      const data = await sharp(p.segmentation.mask).extractChannel(0).raw().toBuffer();
      // The PNG holds what the fractions say: each class's pixel count over the image.
      for (const [c, name] of CLASSES.entries()) {
        const count = data.filter((v) => v === c).length;
        assert.equal(count / (64 * 64), p.segmentation.fractions[name]);
      }
      assert.ok(data.every((v) => v < CLASSES.length));
    }
    const text = await tlpipeBounded(['predict', runDir, images[0]!], dir, { timeoutMs: BOUND_MS });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /0000\.jpg: \w+ \d+\.\d% of pixels/);
  });

  it('loadModel(run).segment(files) in the library: a mask per image at the input size, the others still segmented', async () => {
    const loaded = await loadModel(runDir);
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
    try {
      assert.equal(loaded.value.task, 'segmentation');
      const image = path.join(FIXTURE, 'images', '0001.jpg');
      const { segmentations, failures } = await loaded.value.segment([image, path.join(dir, 'missing.jpg')]);
      assert.deepEqual(
        failures.map((f) => f.file),
        [path.join(dir, 'missing.jpg')],
      );
      assert.equal(segmentations.length, 1);
      const [s] = segmentations;
      assert.equal(s!.file, image);
      assert.deepEqual([s!.mask.height, s!.mask.width, s!.mask.data.length], [64, 64, 64 * 64]);
      assert.deepEqual(Object.keys(s!.fractions), CLASSES);
      await assert.rejects(loaded.value.score([image]), /segments/);
    } finally {
      loaded.value.dispose();
    }
  });
});
