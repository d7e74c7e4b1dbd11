import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { compileSmall } from '../fixtures/small-plan.js';
import { niceTicks } from '../../src/render/report-charts.js';
import { bestEpoch, renderComparisonReport, runColour } from '../../src/render/report-html.js';
import { renderRunReport } from '../../src/render/run-report.js';
import { writePlan } from '../../src/store/plan-file.js';
import {
  readRunReportSources,
  REPORT_FILE,
  writeComparisonReport,
  writeRunReport,
} from '../../src/store/report-file.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-report-pages-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Class names a report must show as text, never as markup. */
const HOSTILE = '<img src=x onerror=alert(1)>';
const PIPELINE = `dataset: { format: idx, train: { images: a, labels: b }, test: { images: c, labels: d }, classNames: [cat, "${HOSTILE}"] }
base: { model: ./m.json, cut: top }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { name: head, epochs: 4, earlyStopping: { patience: 1, restoreBest: true } }
    - { name: tune, epochs: 2, unfreeze: ['conv'] }
`;
const row = (stage: string, epoch: number, valLoss: number) =>
  JSON.stringify({
    stage,
    epoch,
    loss: 1 / epoch,
    accuracy: epoch / 10,
    val_loss: valLoss,
    val_accuracy: 0.5,
    lr: 0.01,
    seconds: 1,
  }) + '\n';

/** A completed run's folder as tlpipe leaves it, examples.json naming its example absolutely (as runs before relative paths did). */
async function runFolder(
  newer: {
    rankings?: Record<string, { auroc: number | null; averagePrecision: number | null }>;
    calibration?: unknown;
  } = {},
): Promise<string> {
  const dir = path.join(root, 'runs', 'p', '0001-abcdef12');
  mkdirSync(dir, { recursive: true });
  const { plan } = compileSmall(PIPELINE);
  await writePlan(dir, plan);
  writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({
      id: '0001-abcdef12',
      pipeline: 'p',
      status: 'completed',
      pid: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      endedAt: '2026-01-01T00:02:05.000Z',
      fingerprint: plan.fingerprint,
      seed: 42,
      backend: 'wasm',
      git: null,
      versions: { tlpipe: '1.0.0' },
    }),
  );
  writeFileSync(
    path.join(dir, 'metrics.jsonl'),
    row('head', 1, 0.9) + row('head', 2, 0.4) + row('head', 3, 0.6) + row('tune', 5, 0.5),
  );
  writeFileSync(path.join(dir, 'pipeline.yaml'), PIPELINE);
  const perClass = {
    cat: { precision: 1, recall: 0.5, f1: 0.667, support: 2, ...newer.rankings?.['cat'] },
    [HOSTILE]: { precision: 0.667, recall: 1, f1: 0.8, support: 2, ...newer.rankings?.[HOSTILE] },
  };
  writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({
      status: 'completed',
      pipeline: 'p',
      run: '0001-abcdef12',
      backend: 'wasm',
      classes: ['cat', HOSTILE],
      data: { counts: { train: 8, validation: 2, test: 4 } },
      stages: [
        { name: 'head', epochsRun: 3, stoppedEarly: true, restoredEpoch: 2 },
        { name: 'tune', epochsRun: 1, stoppedEarly: false },
      ],
      test: {
        loss: 0.4,
        accuracy: 0.75,
        examples: 4,
        perClass,
        ...(newer.calibration ? { calibration: newer.calibration } : {}),
        confusionMatrix: [
          [1, 1],
          [0, 2],
        ],
      },
      resources: { peakRssMiB: 300, seconds: 125 },
    }),
  );
  const png = Buffer.from('png bytes').toString('base64');
  writeFileSync(
    path.join(dir, 'examples.json'),
    JSON.stringify({
      worst: [
        {
          example: path.join(dir, 'data', 'cat', '1.png'),
          actual: 'cat',
          predicted: HOSTILE,
          probabilityOfActual: 0.2,
          probabilityOfPredicted: 0.8,
          png,
        },
      ],
      perClass: [],
    }),
  );
  return dir;
}

describe("a run's report page, from its own files", () => {
  it("the store reads what the page shows; an older run's absolute example paths come back relative to the run", async () => {
    const sources = await readRunReportSources(await runFolder());
    assert.deepEqual(
      sources.metrics.map((r) => r.epoch),
      [1, 2, 3, 5],
    );
    assert.deepEqual(sources.baseline, []);
    assert.equal(sources.gallery!.worst[0]!.example, 'data/cat/1.png');
    assert.equal(sources.pipelineYaml, PIPELINE);
    assert.equal(sources.summary!.test!.accuracy, 0.75);
  });

  it("report.html is the renderer's page of those files, hostile names shown as text", async () => {
    const dir = await runFolder();
    assert.equal(await writeRunReport(dir, renderRunReport), path.join(dir, REPORT_FILE));
    const page = readFileSync(path.join(dir, REPORT_FILE), 'utf8');
    assert.equal(page, renderRunReport(await readRunReportSources(dir)));
    const expected = [
      '<title>p — run 0001-abcdef12</title>',
      'test accuracy <b id="test-accuracy">0.7500</b>, test loss 0.4000',
      '<tr><th>duration</th><td>2 min 5 s</td></tr>',
      '<tr><th>git</th><td>not in git</td></tr>',
      '<td style="text-align:left">1–4 (ran 3, stopped early)</td><td style="text-align:left">5–6 (ran 1)</td>',
      'data-mark="best val_loss"',
      'data-mark="head: weights restored"',
      '<td>&lt;img src=x onerror=alert(1)&gt;</td>',
      '<td style="text-align:left">data/cat/1.png</td>',
    ];
    for (const text of expected) assert.ok(page.includes(text), text);
    assert.equal(page.includes(HOSTILE), false);
  });

  it('a run that measured rankings and calibration shows AUROC and AP per class and a reliability diagram; an older run shows neither', async () => {
    const bins = Array.from({ length: 10 }, (_, k) => ({
      lower: k / 10,
      upper: (k + 1) / 10,
      count: k === 9 ? 3 : k === 6 ? 1 : 0,
      confidence: k === 9 ? 0.95 : k === 6 ? 0.65 : null,
      accuracy: k === 9 ? 1 : k === 6 ? 0 : null,
    }));
    const dir = await runFolder({
      rankings: { cat: { auroc: 0.875, averagePrecision: 0.8333 }, [HOSTILE]: { auroc: null, averagePrecision: null } },
      calibration: { ece: 0.2, bins },
    });
    const page = renderRunReport(await readRunReportSources(dir));
    for (const text of [
      '<th title="one-vs-rest area under the ROC curve">AUROC</th>',
      '<td>0.875</td><td>0.833</td>',
      '<td>–</td><td>–</td>',
      '<h2>Calibration (test)</h2>',
      'Expected calibration error <b>0.2000</b> over 4 examples',
      'aria-label="reliability diagram',
      '90–100%: 3 examples, mean probability 0.950, accuracy 1.000',
    ])
      assert.ok(page.includes(text), text);
    // Two bars, for the two bins that hold examples.
    assert.equal(page.match(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="#1f6feb"/g)?.length, 2);
    const older = renderRunReport(await readRunReportSources(await runFolder()));
    assert.equal(older.includes('AUROC'), false);
    assert.equal(older.includes('Calibration (test)'), false);
  });

  it("a page at another place (`tlpipe report --out`) leaves the run folder's alone", async () => {
    const dir = await runFolder();
    const out = path.join(root, 'elsewhere.html');
    assert.equal(await writeRunReport(dir, renderRunReport, out), out);
    assert.ok(readFileSync(out, 'utf8').startsWith('<!doctype html>'));
  });
});

describe('a comparison page', () => {
  it("has each run's curves; a run whose metrics file is damaged has none, and the page is still written", async () => {
    const good = await runFolder();
    const damaged = path.join(root, 'damaged');
    mkdirSync(damaged, { recursive: true });
    writeFileSync(path.join(damaged, 'metrics.jsonl'), 'not json\n' + row('head', 2, 1));
    const out = path.join(root, 'compare.html');
    await writeComparisonReport(
      out,
      [
        { label: 'good', dir: good },
        { label: 'damaged', dir: damaged },
      ],
      (runs) =>
        renderComparisonReport('good vs damaged', runs, {
          metrics: { header: ['', 'good', 'damaged'], rows: [['test accuracy', '0.75', '–']] },
        }),
    );
    const page = readFileSync(out, 'utf8');
    assert.ok(page.includes('data-series="good validation"'));
    assert.equal(page.includes('data-series="damaged'), false);
    assert.ok(page.includes('<th style="text-align:left">test accuracy</th><td>0.75</td><td>–</td>'));
  });
});

describe("the charts' arithmetic", () => {
  const monitor = (metric: 'val_loss' | 'val_accuracy', mode: 'min' | 'max') => ({ metric, mode });
  const rows = [
    { stage: 'a', epoch: 1, loss: 1, accuracy: 0, lr: 0.1, val_loss: 0.8, val_accuracy: 0.5 },
    { stage: 'a', epoch: 2, loss: 1, accuracy: 0, lr: 0.1, val_loss: Number.NaN, val_accuracy: 0.7 },
    { stage: 'a', epoch: 3, loss: 1, accuracy: 0, lr: 0.1, val_loss: 0.6, val_accuracy: 0.7 },
    { stage: 'a', epoch: 4, loss: 1, accuracy: 0, lr: 0.1 },
  ];
  const best: { name: string; monitor: ReturnType<typeof monitor>; epoch: number | undefined; rows?: typeof rows }[] = [
    { name: 'the lowest loss, a NaN epoch never best', monitor: monitor('val_loss', 'min'), epoch: 3 },
    { name: 'the highest accuracy, the first of a tie', monitor: monitor('val_accuracy', 'max'), epoch: 2 },
    { name: 'no epoch has the metric', monitor: monitor('val_loss', 'min'), epoch: undefined, rows: [rows[3]!] },
  ];
  for (const c of best) it(`best epoch: ${c.name}`, () => assert.equal(bestEpoch(c.rows ?? rows, c.monitor), c.epoch));

  const ticks: { name: string; min: number; max: number; labels: string[] }[] = [
    { name: 'round steps over the range', min: 0.13, max: 0.92, labels: ['0', '0.2', '0.4', '0.6', '0.8', '1.0'] },
    { name: 'a flat series gets a band around its value', min: 2, max: 2, labels: ['1.0', '1.5', '2.0', '2.5', '3.0'] },
    { name: 'tiny values in e-notation', min: 0.0001, max: 0.0004, labels: ['1e-4', '2e-4', '3e-4', '4e-4'] },
  ];
  for (const c of ticks)
    it(`ticks: ${c.name}`, () =>
      assert.deepEqual(
        niceTicks(c.min, c.max).map((t) => t.label),
        c.labels,
      ));

  it('every run of sixteen has its own colour', () => {
    assert.equal(new Set(Array.from({ length: 16 }, (_, i) => runColour(i, 16))).size, 16);
    assert.equal(runColour(0, 2), '#1f6feb');
  });
});
