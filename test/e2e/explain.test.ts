import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { explain } from '../../src/api/index.js';
import type { ClassHeatmap } from '../../src/api/index.js';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { encodeIdx, parseIdx } from '../../src/engine/data/idx-file.js';
import { SeededRandom } from '../../src/plan/seeded-random.js';
import { hasStackTrace, tlpipe, workspace, write } from './cli-harness.js';

/** The canvas a digit is pasted on, and the digit's size: the digit covers 1/11 of the canvas. */
const CANVAS = 84;
const DIGIT = 28;
const CLASSES = [0, 1, 2, 3];

/** Where a digit was pasted, in canvas pixels (right and bottom exclusive). */
interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * Real MNIST digits of `CLASSES`, each pasted at a seeded random place on a
 * blank canvas: a task whose evidence is known to lie inside the digit's box.
 */
function pastedDigits(
  split: 'train' | 'test',
  perClass: number,
  seed: number,
  skip = 0,
): { pixels: Uint8Array[]; labels: number[]; boxes: Box[] } {
  const files = mnistFiles();
  const images = parseIdx(readFileSync(files[split].images));
  const labels = parseIdx(readFileSync(files[split].labels));
  const random = new SeededRandom(seed);
  const out = { pixels: [] as Uint8Array[], labels: [] as number[], boxes: [] as Box[] };
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.data.length && out.labels.length < perClass * CLASSES.length; i++) {
    const label = labels.data[i]!;
    const seen = counts.get(label) ?? 0;
    if (!CLASSES.includes(label) || seen >= perClass + skip) continue;
    counts.set(label, seen + 1);
    if (seen < skip) continue;
    const left = Math.floor(random.next() * (CANVAS - DIGIT + 1));
    const top = Math.floor(random.next() * (CANVAS - DIGIT + 1));
    const canvas = new Uint8Array(CANVAS * CANVAS);
    for (let y = 0; y < DIGIT; y++)
      canvas.set(images.data.subarray(i * 784 + y * DIGIT, i * 784 + (y + 1) * DIGIT), (top + y) * CANVAS + left);
    out.pixels.push(canvas);
    out.labels.push(label);
    out.boxes.push({ left, top, right: left + DIGIT, bottom: top + DIGIT });
  }
  return out;
}

function writeIdx(dir: string, split: 'train' | 'test', digits: ReturnType<typeof pastedDigits>): void {
  const bytes = new Uint8Array(digits.pixels.length * CANVAS * CANVAS);
  digits.pixels.forEach((p, i) => bytes.set(p, i * CANVAS * CANVAS));
  writeFileSync(
    path.join(dir, `${split}-images.gz`),
    gzipSync(encodeIdx([digits.pixels.length, CANVAS, CANVAS], bytes)),
  );
  writeFileSync(
    path.join(dir, `${split}-labels.gz`),
    gzipSync(encodeIdx([digits.labels.length], Uint8Array.from(digits.labels))),
  );
}

/** The share of a map's heat inside a box given in canvas pixels (the map is at the model's input size). */
function heatInside(map: ClassHeatmap, box: Box): number {
  const sx = map.width / CANVAS,
    sy = map.height / CANVAS;
  let inside = 0,
    total = 0;
  for (let y = 0; y < map.height; y++) {
    for (let x = 0; x < map.width; x++) {
      const v = map.values[y * map.width + x]!;
      total += v;
      // A map pixel is inside when its centre is.
      const cx = (x + 0.5) / sx,
        cy = (y + 0.5) / sy;
      if (cx >= box.left && cx < box.right && cy >= box.top && cy < box.bottom) inside += v;
    }
  }
  return total === 0 ? 0 : inside / total;
}

const PIPELINE = `name: canvas
seed: 7
dataset:
  format: idx
  train: { images: train-images.gz, labels: train-labels.gz }
  test: { images: test-images.gz, labels: test-labels.gz }
  classNames: [zero, one, two, three]
  validation: 0.1
  image: { size: [${CANVAS}, ${CANVAS}] }
base: { model: mobilenet_v2, cut: block_6_expand_relu }   # stride 8: an 11×11 map at 84 px
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 32
  stages:
    - { name: head, epochs: 15, optimizer: { name: adam, learningRate: 0.01 } }
`;

describe('tlpipe explain: Grad-CAM on a run whose answer is known', () => {
  const dir = workspace('explain');
  const images = path.join(dir, 'images');
  let probes: { file: string; label: number; box: Box }[] = [];
  before(async () => {
    writeIdx(dir, 'train', pastedDigits('train', 200, 1));
    writeIdx(dir, 'test', pastedDigits('test', 10, 2));
    write(dir, 'canvas.yaml', PIPELINE);
    const run = await tlpipe(['run', 'canvas.yaml', '--quiet'], dir);
    assert.equal(run.code, 0, run.stderr);
    // Digits the run never saw (later test digits, other places), as PNG files a user would pass.
    const fresh = pastedDigits('test', 5, 3, 10);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(images);
    probes = await Promise.all(
      fresh.pixels.map(async (pixels, i) => {
        const file = path.join(images, `digit-${i}.png`);
        await sharp(Buffer.from(pixels), { raw: { width: CANVAS, height: CANVAS, channels: 1 } })
          .png()
          .toFile(file);
        return { file, label: fresh.labels[i]!, box: fresh.boxes[i]! };
      }),
    );
  });

  it("puts most of the heat of the predicted class inside the digit's box", async () => {
    const result = await explain(
      'canvas',
      probes.map((p) => p.file),
      { runsDir: path.join(dir, 'runs') },
    );
    assert.ok(result.ok, JSON.stringify(result.diagnostics));
    const { explanations, layer } = result.value;
    assert.equal(layer, 'block_6_expand_relu');
    assert.equal(explanations.length, probes.length);
    const shares = explanations.map((e, i) => heatInside(e.maps[0]!.heatmap, probes[i]!.box));
    const names = ['zero', 'one', 'two', 'three'];
    const correct = explanations.filter((e, i) => e.top[0]!.label === names[probes[i]!.label]).length;
    const median = [...shares].sort((a, b) => a - b)[Math.floor(shares.length / 2)]!;
    const byClass = names.map((name, c) => {
      const of = shares.filter((_, i) => probes[i]!.label === c);
      return `${name} ${((of.reduce((a, b) => a + b, 0) / of.length) * 100).toFixed(0)}%`;
    });
    // The box is 1/9 of the canvas: heat spread evenly would put 11% inside.
    console.log(
      `grad-cam: ${correct}/${probes.length} classified right; heat of the predicted class inside the digit's box: median ${(median * 100).toFixed(1)}%; mean by true class: ${byClass.join(', ')}`,
    );
    assert.ok(correct >= probes.length * 0.7, `${correct}/${probes.length} classified right`);
    assert.ok(median >= 0.6, `median heat inside the box ${median}`);
    for (const e of explanations) {
      assert.equal(e.maps[0]!.why, 'predicted');
      assert.equal(e.maps[0]!.heatmap.values.length, CANVAS * CANVAS);
      assert.equal(Math.max(...e.maps[0]!.heatmap.values), 1);
    }
  });

  it('the CLI writes an overlay PNG per map and prints the top classes; --class adds the asked class', async () => {
    const out = path.join(dir, 'overlays');
    const r = await tlpipe(
      ['explain', 'canvas', probes[0]!.file, probes[1]!.file, '--class', 'three', '--out', out, '--top', '2'],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /digit-0\.png: (zero|one|two|three) \d+\.\d%, (zero|one|two|three) \d+\.\d%$/m);
    assert.match(r.stdout, /^ {2}predicted (zero|one|two|three): .*overlays\/digit-0\.\w+\.png$/m);
    assert.match(r.stderr, /Grad-CAM at layer block_6_expand_relu/);
    const written = readdirSync(out).sort();
    assert.ok(written.includes('digit-0.three.png') && written.includes('digit-1.three.png'), written.join(' '));
    for (const name of written) {
      const meta = await sharp(path.join(out, name)).metadata();
      assert.equal(meta.format, 'png');
      assert.ok(meta.width! >= CANVAS && meta.width === meta.height, `${name}: ${meta.width}×${meta.height}`);
    }
    const json = await tlpipe(['explain', 'canvas', probes[2]!.file, '--json', '--out', out], dir);
    assert.equal(json.code, 0, json.stderr);
    const line = JSON.parse(json.stdout.trim());
    assert.equal(line.layer, 'block_6_expand_relu');
    assert.equal(line.maps[0].why, 'predicted');
    assert.ok(existsSync(line.maps[0].overlay));
  });

  it('says what is wrong with a class, a layer or a file it cannot use, without a stack trace', async () => {
    const cases = [
      { args: ['--class', 'thre'], err: /the model has no class `thre`.*\n.*did you mean `three`\?/ },
      { args: ['--layer', 'nowhere'], err: /the model has no layer `nowhere`/ },
      {
        args: ['--layer', 'head_1_dense'],
        err: /layer `head_1_dense` has output shape \[,4\], not height × width × channels/,
      },
    ];
    for (const c of cases) {
      const r = await tlpipe(['explain', 'canvas', probes[0]!.file, ...c.args, '--out', path.join(dir, 'x')], dir);
      assert.equal(r.code, 1, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.err);
      assert.equal(hasStackTrace(r.stderr), false);
    }
    const bad = write(dir, 'broken.png', 'not a png');
    const r = await tlpipe(['explain', 'canvas', bad, probes[0]!.file, '--out', path.join(dir, 'y')], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken\.png/);
    assert.match(r.stdout, /digit-0\.png: /);
    assert.equal(hasStackTrace(r.stderr), false);
  });
});
