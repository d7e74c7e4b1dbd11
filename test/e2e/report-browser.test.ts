import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { browserSkip, CHROMIUM, chromiumFlags } from './browser-harness.js';
import { tlpipe, workspace, write, writeDigitImageFolder } from './cli-harness.js';

/** A class folder name that would run script if a report pasted it in unescaped. */
const HOSTILE = '<img src=x onerror=alert(1)>';

/** Renders a page in headless Chromium: a PNG screenshot and the DOM as the browser built it. */
function render(file: string, out: string): { png: string; dom: string } {
  const flags = chromiumFlags();
  const png = path.join(out, `${path.basename(file)}.png`);
  execFileSync(CHROMIUM!, [...flags, '--window-size=1100,1600', `--screenshot=${png}`, `file://${file}`], { stdio: 'pipe', timeout: 60_000 });
  const dom = execFileSync(CHROMIUM!, [...flags, '--dump-dom', `file://${file}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  return { png, dom };
}

/** How many pixels of the screenshot have (about) this colour. */
async function pixelsOf(png: string, [r, g, b]: [number, number, number]): Promise<number> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let count = 0;
  for (let i = 0; i < data.length; i += info.channels) {
    if (Math.abs(data[i]! - r) < 12 && Math.abs(data[i + 1]! - g) < 12 && Math.abs(data[i + 2]! - b) < 12) count++;
  }
  return count;
}

describe('report.html in a real browser (headless Chromium)', { skip: browserSkip }, () => {
  const dir = workspace('browser');
  let runDir = '';
  before(async () => {
    await writeDigitImageFolder(path.join(dir, 'digits'), 6);
    renameSync(path.join(dir, 'digits', 'seven'), path.join(dir, 'digits', HOSTILE));
    write(dir, 'b.yaml', `name: b
seed: 1
backend: wasm
dataset: { format: imageFolder, dir: digits, test: 0.3, image: { size: [32, 32] } }
base: { cut: block_3_expand_relu }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 4
  stages:
    - { name: head, epochs: 3, optimizer: { learningRate: 0.01 } }
    - { name: tune, epochs: 2, unfreeze: ["block_2_*"], optimizer: { learningRate: 0.001 } }
`);
    const r = await tlpipe(['run', 'b.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    runDir = path.join(dir, 'runs', 'b', readdirSync(path.join(dir, 'runs', 'b')).find((n) => /^\d{4}-/.test(n))!);
  });

  it('draws the loss, accuracy and learning-rate curves and the confusion heatmap', async () => {
    const { png } = render(path.join(runDir, 'report.html'), dir);
    const { width, height } = await sharp(png).metadata();
    assert.deepEqual([width, height], [1100, 1600]);
    // Train curves are #1f6feb, validation #d9480f, the learning rate(s) #2da44e and on.
    assert.ok((await pixelsOf(png, [31, 111, 235])) > 300, 'train curves drawn');
    assert.ok((await pixelsOf(png, [217, 72, 15])) > 300, 'validation curves drawn');
    // Head and base rates are equal here, so the base group's purple is drawn over the head's green.
    assert.ok((await pixelsOf(png, [45, 164, 78])) + (await pixelsOf(png, [130, 80, 223])) > 300, 'learning-rate curves drawn');
  });

  it('shows a hostile class name as text: no element, no handler, in the DOM the browser built', () => {
    const { dom } = render(path.join(runDir, 'report.html'), dir);
    assert.ok(dom.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the class name appears as text');
    assert.doesNotMatch(dom, /<img/i);
    assert.equal((dom.match(/<svg class="chart"/g) ?? []).length, 3);
  });

  it('a comparison page of two runs renders both runs\' curves', async () => {
    // The same pipeline with a higher head learning rate, so the two runs' curves differ.
    write(dir, 'b.yaml', readFileSync(path.join(dir, 'b.yaml'), 'utf8').replace('learningRate: 0.01 }', 'learningRate: 0.05 }'));
    const second = await tlpipe(['run', 'b.yaml'], dir);
    assert.equal(second.code, 0, second.stderr);
    const r = await tlpipe(['report', 'b/0001', 'b/0002', '--out', 'compare.html'], dir);
    assert.equal(r.code, 0, r.stderr);
    const { png, dom } = render(path.join(dir, 'compare.html'), dir);
    assert.equal((dom.match(/<svg class="chart"/g) ?? []).length, 2);
    assert.ok((await pixelsOf(png, [31, 111, 235])) > 200 && (await pixelsOf(png, [217, 72, 15])) > 200, 'one colour per run');
    assert.ok(readFileSync(path.join(dir, 'compare.html'), 'utf8').length > 1000);
  });
});
