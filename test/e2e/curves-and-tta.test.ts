import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadModel } from '../../src/api/load-model.js';
import { packageRoot } from '../../src/package/package-root.js';
import { browserSkip, probePage } from './browser-harness.js';
import {
  DIGIT_FOLDERS,
  hasStackTrace,
  readJson,
  tinyPipeline,
  tlpipe,
  workspace,
  write,
  writeDigitImageFolder,
  writeMnistSubsetIdx,
} from './cli-harness.js';

const DATASET =
  '{ format: idx, train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }, test: { images: test-images-idx3-ubyte.gz, labels: test-labels-idx1-ubyte.gz }, image: { size: [32, 32] } }';
const CLASSES = 3;
const TEST_PER_CLASS = 30;
/** Long enough to learn the three digits (0.67 test accuracy here), so the curves and the views have something to show. */
const TRAIN = `train:
  stages:
    - { epochs: 8, batchSize: 16, optimizer: { learningRate: 0.01 } }
`;

/** The probabilities of every class for each image, by file, from `predict --json --top <all>` lines. */
const byFile = (lines: { file: string; top: { label: string; probability: number }[] }[]) =>
  new Map(lines.map((p) => [p.file, Object.fromEntries(p.top.map((t) => [t.label, t.probability]))]));

describe('ROC/PR curves and test-time augmentation on real MNIST digits', () => {
  const dir = workspace('tta');
  let runDir = '';
  let images: string[] = [];
  before(async () => {
    writeMnistSubsetIdx(dir, TEST_PER_CLASS, CLASSES);
    const pipeline = tinyPipeline('t', DATASET).replace(/train:\n[\s\S]*$/, TRAIN);
    write(dir, 't.yaml', pipeline + 'evaluate: { tta: [flip, crops] }\n');
    const r = await tlpipe(['run', 't.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    const runs = path.join(dir, 'runs', 't');
    runDir = path.join(
      runs,
      readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
    );
    mkdirSync(path.join(dir, 'digits'));
    images = await writeDigitImageFolder(path.join(dir, 'digits'), 2, ['png']);
  });

  it('summary.json: the plain test metrics with bounded curves per class, and the metrics with the 12 views of flip,crops', () => {
    const test = readJson(path.join(runDir, 'summary.json')).test;
    assert.equal(test.examples, CLASSES * TEST_PER_CLASS);
    assert.deepEqual(Object.keys(test.curves), ['0', '1', '2']);
    for (const [name, curves] of Object.entries<{ roc: { x: number[]; y: number[] }; pr: { x: number[] } }>(
      test.curves,
    )) {
      assert.ok(curves.roc.x.length >= 2 && curves.roc.x.length <= 100, `${name}: ${curves.roc.x.length} points`);
      assert.deepEqual([curves.roc.x[0], curves.roc.y[0], curves.roc.x.at(-1), curves.roc.y.at(-1)], [0, 0, 1, 1]);
      assert.ok(curves.pr.x.length <= 100);
      assert.equal(typeof test.perClass[name].auroc, 'number');
    }
    const tta = test.tta;
    assert.deepEqual(tta.transforms, ['flip', 'crops']);
    assert.equal(tta.views.length, 12);
    assert.equal(tta.examples, test.examples);
    assert.ok(tta.accuracy >= 0 && tta.accuracy <= 1 && Number.isFinite(tta.loss));
    assert.equal(
      tta.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0),
      test.examples,
    );
    assert.equal(tta.worst, undefined, 'the worst examples are the plain evaluation’s');
    // The views are in the evaluate task's config: asking for other transforms evaluates again.
    const plan = readJson(path.join(runDir, 'plan.json'));
    assert.deepEqual(plan.tasks.find((t: { id: string }) => t.id === 'evaluate').config, { tta: ['flip', 'crops'] });
  });

  it('report.html draws the ROC and precision-recall curves (a line per class, the diagonal) and both accuracies', () => {
    const html = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    const svg = (kind: string) => new RegExp(`<svg class="${kind}"[\\s\\S]*?</svg>`).exec(html)?.[0] ?? '';
    assert.equal((svg('roc').match(/<polyline class="curve"/g) ?? []).length, CLASSES);
    assert.equal((svg('pr').match(/<polyline class="curve"/g) ?? []).length, CLASSES);
    assert.match(svg('roc'), /class="chance"/);
    assert.match(svg('roc'), /0 \(AUC \d\.\d{3}\)/);
    assert.match(svg('pr'), /0 \(AP \d\.\d{3}\)/);
    assert.match(html, /id="tta-accuracy">\d\.\d{4}</);
    assert.match(html, /averaged over 12 views \(identity, crop-top-left/);
  });

  it(
    'in a real browser: both charts laid out with a line per class inside their plot, apart from the metric charts',
    { skip: browserSkip },
    () => {
      const probe = probePage(
        path.join(runDir, 'report.html'),
        `const box = (e) => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
      return {
        lineCharts: document.querySelectorAll('svg.chart').length,
        charts: ['roc', 'pr'].map((kind) => {
          const svg = document.querySelector('svg.' + kind);
          return { svg: box(svg), lines: [...svg.querySelectorAll('polyline.curve')].map(box), legend: [...svg.querySelectorAll('text')].filter((t) => / \\((AUC|AP) /.test(t.textContent)).length };
        }),
      };`,
      ) as { lineCharts: number; charts: { svg: [number, number]; lines: [number, number][]; legend: number }[] };
      assert.equal(probe.lineCharts, 3, 'loss, accuracy, learning rate: the curves are not svg.chart');
      for (const chart of probe.charts) {
        assert.ok(chart.svg[0] > 300 && chart.svg[1] > 200, JSON.stringify(chart.svg));
        assert.equal(chart.lines.length, CLASSES);
        assert.equal(chart.legend, CLASSES);
        // Each line spans part of the 220-pixel plot: drawn, not collapsed to a point.
        for (const [w, h] of chart.lines) assert.ok(w + h > 50 && w <= 221 && h <= 221, `${w}×${h}`);
      }
    },
  );

  it('tlpipe evaluate --tta flip: the metrics of the run and with the 2 views of flip', async () => {
    const json = await tlpipe(['evaluate', runDir, '--tta', 'flip', '--json'], dir);
    assert.equal(json.code, 0, json.stderr);
    const evaluated = JSON.parse(json.stdout);
    const summary = readJson(path.join(runDir, 'summary.json')).test;
    // The exported model on images, the run's head on cached features: the same answers.
    assert.ok(Math.abs(evaluated.accuracy - summary.accuracy) <= 1 / summary.examples);
    assert.deepEqual(evaluated.tta.views, ['identity', 'mirror']);
    assert.equal(evaluated.tta.examples, summary.examples);
    const text = await tlpipe(['evaluate', runDir, '--tta', 'flip'], dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^with test-time augmentation \(flip: 2 views averaged\): accuracy \d\.\d{4}/m);
  });

  it('predict --tta flip answers what loadModel(...).classify(..., { tta: ["flip"] }) answers, and not what it answers without', async () => {
    const predicted = await tlpipe(['predict', runDir, ...images, '--tta', 'flip', '--top', '3', '--json'], dir);
    assert.equal(predicted.code, 0, predicted.stderr);
    const cli = byFile(
      predicted.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    );
    const loaded = await loadModel(runDir, { backend: 'wasm' });
    assert.ok(loaded.ok, JSON.stringify(loaded.diagnostics));
    try {
      const augmented = byFile((await loaded.value.classify(images, { top: 3, tta: ['flip'] })).predictions);
      const plain = byFile((await loaded.value.classify(images, { top: 3 })).predictions);
      assert.equal(cli.size, Object.keys(DIGIT_FOLDERS).length * 2);
      let moved = 0;
      for (const [file, probabilities] of cli)
        for (const [label, p] of Object.entries(probabilities)) {
          assert.ok(Math.abs(p - augmented.get(file)![label]!) < 1e-5, `${file} ${label}`);
          moved = Math.max(moved, Math.abs(p - plain.get(file)![label]!));
        }
      assert.ok(moved > 1e-4, 'a mirrored digit changes the answer');
      const refused = await loaded.value.classify(images, { tta: ['wobble' as 'flip'] }).then(
        () => undefined,
        (error: Error) => error.message,
      );
      assert.match(refused ?? '', /unknown test-time augmentation `wobble`/);
    } finally {
      loaded.value.dispose();
    }
  });

  const refusals = [
    { name: 'predict --tta wobble', args: () => ['predict', runDir, images[0]!, '--tta', 'wobble'] },
    { name: 'evaluate --tta flip,wobble', args: () => ['evaluate', runDir, '--tta', 'flip,wobble'] },
  ];
  for (const c of refusals)
    it(`${c.name}: a usage error listing the transforms there are`, async () => {
      const r = await tlpipe(c.args(), dir);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /unknown test-time augmentation `wobble`: the transforms are flip and crops/);
      assert.ok(!hasStackTrace(r.stderr), r.stderr);
    });
});

describe('a two-class table: the positive class drawn alone; test-time augmentation refused', () => {
  const dir = workspace('tta-rows');
  let runDir = '';
  before(async () => {
    for (const name of ['breast-cancer.yaml', 'breast-cancer-train.csv', 'breast-cancer-test.csv'])
      cpSync(path.join(packageRoot(), 'test', 'fixtures', 'tables', name), path.join(dir, name));
    const r = await tlpipe(['run', 'breast-cancer.yaml', '--set', 'train.stages[0].epochs=5'], dir);
    assert.equal(r.code, 0, r.stderr);
    const runs = path.join(dir, 'runs', 'breast-cancer');
    runDir = path.join(
      runs,
      readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
    );
  });

  it('report.html: one ROC line and one precision-recall line, of malignant (the second class)', () => {
    const html = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    assert.equal((html.match(/<polyline class="curve"/g) ?? []).length, 2);
    assert.match(html, /malignant \(AUC \d\.\d{3}\)/);
    assert.match(html, /malignant \(AP \d\.\d{3}\)/);
    assert.doesNotMatch(html, /benign \(AUC/);
    assert.match(html, /the positive class, malignant, against benign/);
  });

  const refusals = [
    {
      name: 'predict --tta flip',
      args: () => ['predict', runDir, 'breast-cancer-test.csv', '--tta', 'flip'],
      says: /test-time augmentation \(--tta\) transforms images, and this model was trained on tabular rows/,
    },
    {
      name: 'evaluate --tta crops',
      args: () => ['evaluate', runDir, '--tta', 'crops'],
      says: /test-time augmentation \(--tta\) transforms images, and this model was trained on tabular rows/,
    },
    {
      name: 'evaluate.tta in the pipeline',
      args: () => {
        write(
          dir,
          'rows.yaml',
          readFileSync(path.join(dir, 'breast-cancer.yaml'), 'utf8') + 'evaluate: { tta: [flip] }\n',
        );
        return ['validate', 'rows.yaml'];
      },
      says: /^rows\.yaml:\d+:13: error: evaluate\.tta: test-time augmentation \(flip\) transforms images, and this pipeline's examples are tabular rows/m,
    },
  ];
  for (const c of refusals)
    it(`${c.name}: a clear error`, async () => {
      const r = await tlpipe(c.args(), dir);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, c.says);
      assert.ok(!hasStackTrace(r.stderr), r.stderr);
    });
});
