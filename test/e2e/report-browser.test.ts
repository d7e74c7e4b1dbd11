import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { browserSkip, CHROMIUM, chromiumFlags, probePage } from './browser-harness.js';
import {
  IDX_TRAIN_DATASET,
  readJson,
  tinyPipeline,
  tlpipe,
  workspace,
  write,
  writeDigitImageFolder,
  writeMnistSubsetIdx,
} from './cli-harness.js';

/** A class folder name that would run script if a report pasted it in unescaped. */
const HOSTILE = '<img src=x onerror=alert(1)>';

/** Renders a page in headless Chromium: a PNG screenshot and the DOM as the browser built it. */
function render(file: string, out: string): { png: string; dom: string } {
  const flags = chromiumFlags();
  const png = path.join(out, `${path.basename(file)}.png`);
  execFileSync(CHROMIUM!, [...flags, '--window-size=1100,1600', `--screenshot=${png}`, `file://${file}`], {
    stdio: 'pipe',
    timeout: 60_000,
  });
  const dom = execFileSync(CHROMIUM!, [...flags, '--dump-dom', `file://${file}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
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
    write(
      dir,
      'b.yaml',
      `name: b
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
    - { name: tune, epochs: 2, unfreeze: ["block_2_*"], optimizer: { learningRate: 0.001 }, earlyStopping: { monitor: val_loss, patience: 1 } }
`,
    );
    const r = await tlpipe(['run', 'b.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    runDir = path.join(
      dir,
      'runs',
      'b',
      readdirSync(path.join(dir, 'runs', 'b')).find((n) => /^\d{4}-/.test(n))!,
    );
  });

  it('draws the loss, accuracy and learning-rate curves and the confusion heatmap', async () => {
    const { png } = render(path.join(runDir, 'report.html'), dir);
    const { width, height } = await sharp(png).metadata();
    assert.deepEqual([width, height], [1100, 1600]);
    // Train curves are #1f6feb, validation #d9480f.
    assert.ok((await pixelsOf(png, [31, 111, 235])) > 300, 'train curves drawn');
    assert.ok((await pixelsOf(png, [217, 72, 15])) > 300, 'validation curves drawn');
    // Head and base rates are equal in the tune stage: the head's green is drawn wide at 45% opacity under the base's dashed purple, so both show.
    const paleGreen = [45, 164, 78].map((c) => Math.round(0.45 * c + 0.55 * 255)) as [number, number, number];
    assert.ok((await pixelsOf(png, paleGreen)) > 150, "the head's learning rate drawn");
    assert.ok((await pixelsOf(png, [130, 80, 223])) > 20, "the base's learning rate drawn over it");
  });

  it('shows a hostile class name as text: no element, no handler, in the DOM the browser built', () => {
    const { dom } = render(path.join(runDir, 'report.html'), dir);
    assert.ok(dom.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the class name appears as text');
    // No element has a handler: the name is only ever text (in cells, and escaped in the images' alt text).
    assert.doesNotMatch(dom, /<[a-z][^>]*\son[a-z]+="/i);
    // The only images are the inline PNGs the report made, with nothing but these attributes.
    const images = dom.match(/<img[^>]*>/g) ?? [];
    assert.ok(images.length > 0);
    for (const tag of images) {
      assert.match(tag, / src="data:image\/png;base64,[A-Za-z0-9+/=]+"/);
      assert.deepEqual([...tag.matchAll(/\s([a-z-]+)="/g)].map((m) => m[1]).sort(), [
        'alt',
        'class',
        'height',
        'src',
        'width',
      ]);
    }
    assert.equal((dom.match(/<svg class="chart"/g) ?? []).length, 3);
  });

  it('shows the misclassified test images with Grad-CAM maps of the class predicted and expected, and the hardest per class, as decoded images', () => {
    const summary = readJson(path.join(runDir, 'summary.json'));
    const misclassified = (summary.test.confusionMatrix as number[][])
      .flatMap((row, i) => row.filter((_, j) => j !== i))
      .reduce((a, b) => a + b, 0);
    assert.ok(misclassified > 0, 'the run got some test examples wrong (the case this test is about)');
    const probe = probePage(
      path.join(runDir, 'report.html'),
      `
      const decoded = (selector) => [...document.querySelectorAll(selector)].filter((i) => i.complete && i.naturalWidth >= 32 && i.naturalHeight >= 32).length;
      return {
        worstRows: document.querySelectorAll('table.worst tr').length - 1,
        thumbnails: decoded('table.worst img.thumbnail'), heatmaps: decoded('table.worst img.heatmap'),
        perClass: [...document.querySelectorAll('table.per-class tr')].map((tr) => [tr.querySelector('th').textContent, tr.querySelectorAll('img').length, tr.querySelectorAll('figure.wrong').length]),
        perClassDecoded: decoded('table.per-class img.thumbnail'),
        actual: [...document.querySelectorAll('table.worst tr')].slice(1).map((tr) => [tr.cells[4].textContent, tr.cells[6].textContent]),
      };`,
    ) as {
      worstRows: number;
      thumbnails: number;
      heatmaps: number;
      perClass: [string, number, number][];
      perClassDecoded: number;
      actual: [string, string][];
    };
    assert.equal(probe.worstRows, Math.min(8, misclassified));
    assert.equal(probe.thumbnails, probe.worstRows);
    assert.equal(probe.heatmaps, 2 * probe.worstRows);
    // Only misclassified examples are listed.
    for (const [actual, predicted] of probe.actual) assert.notEqual(actual, predicted);
    const perClass = Object.values(summary.test.perClass as Record<string, { support: number }>).map((m) =>
      Math.min(4, m.support),
    );
    assert.deepEqual(
      probe.perClass.map(([, images]) => images),
      perClass,
    );
    assert.equal(
      probe.perClassDecoded,
      perClass.reduce((a, b) => a + b, 0),
    );
    assert.equal(
      probe.perClass.reduce((sum, [, , wrong]) => sum + wrong, 0) > 0,
      true,
      'misclassified examples outlined',
    );
  });

  it('has the hyperparameters as resolved, the best and restored epochs marked, round ticks, and curves and rates that stop where their stage or group does', () => {
    const summary = readJson(path.join(runDir, 'summary.json'));
    const probe = probePage(
      path.join(runDir, 'report.html'),
      `
      const table = [...document.querySelectorAll('table.hyperparameters tr')].map((tr) => [...tr.cells].map((c) => c.textContent));
      const charts = [...document.querySelectorAll('svg.chart')].map((svg) => ({
        title: svg.querySelector('.title').textContent,
        marks: [...svg.querySelectorAll('line.mark')].map((l) => l.dataset.mark),
        ticks: [...svg.querySelectorAll('text.tick')].map((t) => t.textContent),
        series: Object.fromEntries([...svg.querySelectorAll('path.series')].map((p) => [p.dataset.series, p.getAttribute('d').split(' ').map((c) => c[0]).join('')])),
      }));
      const facts = Object.fromEntries([...document.querySelectorAll('table.facts tr')].map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]));
      return { table, charts, facts };`,
    ) as {
      table: string[][];
      charts: { title: string; marks: string[]; ticks: string[]; series: Record<string, string> }[];
      facts: Record<string, string>;
    };
    assert.deepEqual(probe.table[0], ['', 'head', 'tune']);
    const row = (name: string): string[] => probe.table.find((r) => r[0] === name)!.slice(1);
    assert.deepEqual(row('batch size'), ['4', '4']);
    assert.deepEqual(row('peak learning rate'), ['head 0.01', 'head 0.001base 0.001']);
    assert.match(row('what learns')[1]!, /^the head and \d+ base layer\(s\) \(block_2_/);
    assert.match(row('early stopping')[1]!, /^val_loss, patience 1/);
    const [loss, , rate] = probe.charts;
    assert.ok(loss!.marks.includes('best val_loss'), JSON.stringify(loss!.marks));
    const restored = summary.stages[1].restoredEpoch;
    assert.equal(loss!.marks.includes('tune: weights restored'), restored !== undefined);
    // Ticks are round: at most 3 decimals, or e-notation for small rates; epochs are whole.
    for (const chart of probe.charts)
      for (const tick of chart.ticks)
        assert.match(tick, /^(-?\d+(\.\d{1,3})?|\d(\.\d+)?e-\d+|epoch|head|tune)$/, `${chart.title}: ${tick}`);
    // Lines lift at the stage boundary: M…L at stage 1, M…L at stage 2.
    assert.match(loss!.series['train']!, /^ML+ML*$/);
    // The base's rate is drawn only where the base learns (the tune stage's epochs); the head's in both stages.
    const tuneEpochs = summary.stages[1].epochsRun;
    assert.equal(rate!.series['base'], 'M' + 'L'.repeat(tuneEpochs - 1));
    assert.equal(rate!.series['head'], 'MLL' + 'M' + 'L'.repeat(tuneEpochs - 1));
    assert.match(probe.facts['duration']!, /^\d+(\.\d)? s$|min/);
    assert.match(probe.facts['peak memory']!, /^\d+ MiB/);
    assert.equal(
      probe.facts['examples'],
      `${summary.data.counts.train} train, ${summary.data.counts.validation} validation, ${summary.data.counts.test} test`,
    );
  });

  it("a comparison page of two runs: train and validation curves of each, no text over other text, the differing keys with each run's metric", async () => {
    // The same pipeline with a higher head learning rate, so the two runs' curves differ.
    write(
      dir,
      'b.yaml',
      readFileSync(path.join(dir, 'b.yaml'), 'utf8').replace('learningRate: 0.01 }', 'learningRate: 0.05 }'),
    );
    const second = await tlpipe(['run', 'b.yaml'], dir);
    assert.equal(second.code, 0, second.stderr);
    const r = await tlpipe(['report', 'b/0001', 'b/0002', '--out', 'compare.html'], dir);
    assert.equal(r.code, 0, r.stderr);
    const { png, dom } = render(path.join(dir, 'compare.html'), dir);
    assert.equal((dom.match(/<svg class="chart"/g) ?? []).length, 2);
    assert.ok(
      (await pixelsOf(png, [31, 111, 235])) > 200 && (await pixelsOf(png, [217, 72, 15])) > 200,
      'one colour per run',
    );
    const probe = probePage(
      path.join(dir, 'compare.html'),
      `
      const overlaps = [];
      for (const svg of document.querySelectorAll('svg.chart')) {
        const texts = [...svg.querySelectorAll('text')].filter((t) => !t.classList.contains('stage-label'));
        const boxes = texts.map((t) => ({ text: t.textContent, box: t.getBoundingClientRect() }));
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i].box, b = boxes[j].box;
          if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) overlaps.push([boxes[i].text, boxes[j].text]);
        }
      }
      const titleAndLegend = [...document.querySelectorAll('svg.chart')].map((svg) => {
        const title = svg.querySelector('.title').getBoundingClientRect();
        return [...svg.querySelectorAll('.legend text')].every((t) => { const l = t.getBoundingClientRect(); return l.top >= title.bottom || l.bottom <= title.top || l.left >= title.right || l.right <= title.left; });
      });
      return {
        overlaps, titleAndLegend,
        series: [...document.querySelectorAll('svg.chart')].map((svg) => [...svg.querySelectorAll('path.series')].map((p) => p.dataset.series)),
        config: [...document.querySelectorAll('table.config tr')].map((tr) => [...tr.cells].map((c) => c.textContent)),
      };`,
    ) as { overlaps: string[][]; titleAndLegend: boolean[]; series: string[][]; config: string[][] };
    assert.deepEqual(probe.overlaps, []);
    assert.deepEqual(probe.titleAndLegend, [true, true]);
    for (const series of probe.series) {
      assert.deepEqual(
        series.sort(),
        ['b/0001-*', 'b/0002-*']
          .flatMap((run) => [`${run} train`, `${run} validation`])
          .map((name) => series.find((s) => new RegExp(`^${name.replace('*', '[0-9a-f]{8}')}$`).test(s))!)
          .sort(),
      );
    }
    assert.equal(probe.config[1]![0], 'test accuracy');
    const rate = probe.config.find((row) => row[0] === 'train.stages[0].optimizer.learningRate');
    assert.deepEqual(rate?.slice(1), ['0.01', '0.05']);
  });
});

describe('the comparison page of many runs fits a 1280-px window (headless Chromium)', { skip: browserSkip }, () => {
  it('16 runs whose configurations differ by whole stages: no horizontal overflow, a colour for every run', async () => {
    const dir = workspace('compare-width');
    writeMnistSubsetIdx(dir, 4, 3);
    write(dir, 'w.yaml', tinyPipeline('w', IDX_TRAIN_DATASET));
    const r = await tlpipe(['run', 'w.yaml', '--runs', 'made'], dir);
    assert.equal(r.code, 0, r.stderr);
    const made = path.join(dir, 'made', 'w');
    const run = path.join(
      made,
      readdirSync(made).find((n) => /^\d{4}-/.test(n))!,
    );
    const fingerprint = path.basename(run).slice(5);
    // Copies of the run whose resolved configurations differ: a head width, and a whole second stage in every other one.
    const refs: string[] = [];
    for (let i = 1; i <= 16; i++) {
      const id = `${String(i).padStart(4, '0')}-${fingerprint}`;
      const copy = path.join(dir, 'runs', 'w', id);
      cpSync(run, copy, { recursive: true });
      const record = readJson(path.join(copy, 'run.json'));
      writeFileSync(path.join(copy, 'run.json'), JSON.stringify({ ...record, id }));
      const resolved = readJson(path.join(copy, 'resolved.json'));
      resolved.head[1].units = 8 * i;
      if (i % 2 === 0)
        resolved.train.stages.push({
          ...resolved.train.stages[0],
          name: `tune-with-a-long-name-${i}`,
          unfreeze: ['block_1_*', 'block_2_*'],
          epochs: i,
        });
      writeFileSync(path.join(copy, 'resolved.json'), JSON.stringify(resolved));
      refs.push(`w/${id}`);
    }
    const page = path.join(dir, 'compare.html');
    const report = await tlpipe(['report', ...refs, '--out', page], dir);
    assert.equal(report.code, 0, report.stderr);
    const probe = probePage(
      page,
      `
      const strokes = (svg) => [...svg.querySelectorAll('path.series')].filter((p) => p.dataset.series.endsWith(' validation')).map((p) => getComputedStyle(p).stroke);
      return {
        viewport: window.innerWidth,
        scrollWidth: document.documentElement.scrollWidth,
        widest: Math.max(...[...document.querySelectorAll('body *')].map((e) => e.getBoundingClientRect().right)),
        colours: [...document.querySelectorAll('svg.chart')].map(strokes),
        configRows: [...document.querySelectorAll('table.config tr')].map((tr) => tr.cells[0].textContent),
      };`,
      '1280,900',
    ) as { viewport: number; scrollWidth: number; widest: number; colours: string[][]; configRows: string[] };
    assert.equal(probe.viewport, 1280);
    assert.ok(probe.scrollWidth <= 1280, `the page is ${probe.scrollWidth} px wide`);
    assert.ok(probe.widest <= 1280, `an element reaches ${probe.widest} px`);
    for (const colours of probe.colours) {
      assert.equal(colours.length, 16);
      assert.equal(new Set(colours).size, 16, `every run has its own colour: ${colours.join(' ')}`);
    }
    assert.ok(
      probe.configRows.includes('head[1].dense.units'),
      `key paths as --set takes them: ${probe.configRows.join(', ')}`,
    );
    // A stage one run has and another has not is its leaf key paths, each `–` on the side without it.
    for (const key of ['train.stages[1].name', 'train.stages[1].epochs', 'train.stages[1].unfreeze'])
      assert.ok(probe.configRows.includes(key), `${key}: ${probe.configRows.join(', ')}`);
  });
});
