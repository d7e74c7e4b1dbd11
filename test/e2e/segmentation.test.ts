import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadModel } from '../../src/api/index.js';
import { hasStackTrace, readJson, tlpipeBounded, workspace, write } from './cli-harness.js';
import { TEXTURES as FIXTURE, TEXTURE_CLASSES as CLASSES, texturesPipeline } from './texture-segmentation.js';

/** The zoo's mobilenet_v2 encoder with a small U-Net decoder (2 skips), at 64×64: frozen, then fine-tuned. */
const PIPELINE = texturesPipeline({
  cut: 'block_13_expand_relu',
  dataset: ['validation: 0.2', 'augment: { flipHorizontal: true }'],
  head: [
    'upsample: { filters: 32, size: 3 }',
    'concatenate: { with: block_6_expand_relu }',
    'upsample: { filters: 16, size: 3 }',
    'concatenate: { with: block_3_expand_relu }',
    'upsample: { filters: 16, size: 3 }',
    'conv2dTranspose: { filters: classes, kernelSize: 3, strides: 2, padding: same }',
  ],
  train: [
    'batchSize: 4',
    'checkpoints: { monitor: val_meanIoU }',
    'stages:',
    '  - { name: decoder, epochs: 1, optimizer: { learningRate: 0.001 } }',
    '  - { name: fine-tune, epochs: 1, unfreeze: [all], optimizer: { learningRate: 0.0001 } }',
  ],
});

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

  it("evaluate re-scores the exported model on the run's test split: the numbers of summary.json", async () => {
    const { test } = readJson(path.join(runDir, 'summary.json'));
    const r = await tlpipeBounded(['evaluate', runDir, '--json'], dir, { timeoutMs: BOUND_MS });
    assert.equal(r.code, 0, r.stderr);
    const evaluated = JSON.parse(r.stdout);
    assert.equal(evaluated.task, 'segmentation');
    assert.equal(evaluated.on, 'its test split (2 images)');
    // The same model on the same pixels through the same evaluateMasks: equal, not close.
    assert.equal(evaluated.meanIoU, test.meanIoU);
    assert.equal(evaluated.pixelAccuracy, test.pixelAccuracy);
    assert.equal(evaluated.loss, test.loss);
    assert.deepEqual(evaluated.perClass, test.perClass);
    assert.deepEqual(
      evaluated.worst.map((w: { example: string; meanIoU: number }) => [path.basename(w.example), w.meanIoU]),
      test.worst.map((w: { example: string; meanIoU: number }) => [path.basename(w.example), w.meanIoU]),
    );
  });

  it('evaluate --data <folder with images/ and masks/> prints mean IoU, pixel accuracy and IoU per class, and --out writes evaluation.json', async () => {
    const out = path.join(dir, 'evaluated');
    const r = await tlpipeBounded(['evaluate', runDir, '--data', FIXTURE, '--out', out], dir, { timeoutMs: BOUND_MS });
    assert.equal(r.code, 0, r.stderr);
    const written = readJson(path.join(out, 'evaluation.json'));
    assert.equal(written.on, `${FIXTURE} (8 images)`);
    assert.equal(written.examples, 8);
    const pixels = Object.values(written.perClass as Record<string, { pixels: number }>).reduce(
      (a, c) => a + c.pixels,
      0,
    );
    assert.equal(pixels, 8 * 64 * 64);
    assert.match(r.stdout, new RegExp(`^evaluated .+ on ${FIXTURE} \\(8 images\\)$`, 'm'));
    assert.match(
      r.stdout,
      new RegExp(`^mean IoU ${written.meanIoU.toFixed(4)}  pixel accuracy ${written.pixelAccuracy.toFixed(4)} `, 'm'),
    );
    for (const name of CLASSES) {
      const { iou, pixels: truePixels } = written.perClass[name];
      const shown = iou === null ? '–' : iou.toFixed(4);
      assert.match(r.stdout, new RegExp(`^  ${name}\\s+${shown}\\s+${truePixels}$`, 'm'), name);
    }
  });

  const BAD_DATA: { name: string; make: (data: string) => Promise<void>; says: RegExp; scored: boolean }[] = [
    {
      name: 'a mask with a value that is no class: named, left out, the rest scored',
      make: async (data) => {
        const values = Buffer.alloc(64 * 64);
        values[64 * 2 + 5] = 7;
        await sharp(values, { raw: { width: 64, height: 64, channels: 1 } })
          .png()
          .toFile(path.join(data, 'masks', '0003.png'));
      },
      says: /masks\/0003\.png.*cannot be used: pixel \(5, 2\) is 7; expected a class index 0–2/,
      scored: true,
    },
    {
      name: 'no masks/ folder',
      make: async (data) => rmSync(path.join(data, 'masks'), { recursive: true }),
      says: /bad-1 has no masks\/ folder\n.*hint: .*holds images\/ .*and masks\//,
      scored: false,
    },
  ];
  for (const c of BAD_DATA) {
    it(`evaluate --data with ${c.name}: exit 1, no stack trace`, async () => {
      const data = path.join(dir, `bad-${BAD_DATA.indexOf(c)}`);
      cpSync(FIXTURE, data, { recursive: true });
      await c.make(data);
      const r = await tlpipeBounded(['evaluate', runDir, '--data', data], dir, { timeoutMs: BOUND_MS });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, c.says);
      assert.equal(hasStackTrace(r.stderr), false, r.stderr);
      if (c.scored) assert.match(r.stdout, /\(7 images, 1 that cannot be used left out\)/);
      else assert.equal(r.stdout, '');
    });
  }
});
