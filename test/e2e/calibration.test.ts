import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadModel } from '../../src/api/index.js';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { parseIdx } from '../../src/engine/data/idx-file.js';
import { writeFolderManifest } from '../../src/store/file-manifest.js';
import { browserSkip, CHROMIUM, chromiumFlags } from './browser-harness.js';
import { hasStackTrace, readJson, tlpipe, workspace, write } from './cli-harness.js';
import { postJson, startServe } from './serve-harness.js';

/**
 * A deliberately overconfident classifier: ten digits of each class, a wide
 * head trained for 150 epochs at a high learning rate on weak features
 * (mobilenet_v2 cut at block_2_add), so it is sure of answers it gets wrong.
 */
const OVERCONFIDENT = `name: over
seed: 3
backend: wasm
dataset:
  format: mnist
  limit: { perClass: 10, testPerClass: 20 }
  validation: 0.3
  image: { size: [32, 32] }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 256, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 16
  stages:
    - { epochs: 150, optimizer: { name: adam, learningRate: 0.01 } }
evaluate:
  calibrate: temperature
  abstain: 0.6
`;

/** Fours against nines, the pair MNIST models mix up most, as an image folder: a threshold on `four` that must keep 95% of them. */
const FOUR_OR_NINE = `name: fourornine
seed: 5
backend: wasm
dataset:
  format: imageFolder
  dir: digits
  validation: 0.3
  test: 0.3
  image: { size: [32, 32] }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 64, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 60, optimizer: { name: adam, learningRate: 0.01 } }
evaluate:
  calibrate: temperature
  threshold: { metric: precisionAtRecall, recall: 0.95, positive: four }
`;

type Ranked = { label: string; probability: number }[];
type Predicted = { file: string; top: Ranked; label?: string; unsure?: boolean };

const runOf = (dir: string, name: string): string =>
  path.join(
    dir,
    'runs',
    name,
    readdirSync(path.join(dir, 'runs', name)).find((n) => /^\d{4}-/.test(n))!,
  );
const byLabel = (top: Ranked): Record<string, number> => Object.fromEntries(top.map((t) => [t.label, t.probability]));

/** MNIST digits as 32×32 PNG files: at the model's input size, so Node and the browser prepare them alike. */
async function digitPngs(dir: string, split: 'train' | 'test', wanted: (label: number) => boolean, count: number) {
  const images = parseIdx(readFileSync(mnistFiles()[split].images));
  const labels = parseIdx(readFileSync(mnistFiles()[split].labels));
  const files: { file: string; label: number }[] = [];
  for (let i = 0; i < labels.data.length && files.length < count; i++) {
    if (!wanted(labels.data[i]!)) continue;
    const file = path.join(dir, `${split}-${i}.png`);
    await sharp(Buffer.from(images.data.subarray(i * 784, (i + 1) * 784)), {
      raw: { width: 28, height: 28, channels: 1 },
    })
      .resize(32, 32)
      .png()
      .toFile(file);
    files.push({ file, label: labels.data[i]! });
  }
  return files;
}

/** The demo page's answer for `image`, computed by headless Chromium from the page on disk. */
function pageAnswer(page: string, image: string): { probabilities: number[]; label: string; unsure: boolean } {
  const dataUrl = `data:image/png;base64,${readFileSync(image).toString('base64')}`;
  const dom = execFileSync(
    CHROMIUM!,
    [
      ...chromiumFlags(),
      '--virtual-time-budget=60000',
      '--dump-dom',
      `file://${page}#backend=cpu&image=${encodeURIComponent(dataUrl)}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 64 << 20 },
  );
  const result = /<pre id="result"[^>]*>([^<]+)<\/pre>/.exec(dom);
  assert.ok(result, `no result in the page: ${/<p id="status">[^<]*/.exec(dom)?.[0]}`);
  return JSON.parse(result[1]!.replace(/&quot;/g, '"'));
}

describe('evaluate: calibrate, threshold and abstain on real MNIST digits', () => {
  const dir = workspace('calibration');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('an overconfident model: temperature scaling lowers the test ECE, and predict, loadModel, serve and the browser page answer alike, "unsure" below 0.6', async () => {
    const file = write(dir, 'over.yaml', OVERCONFIDENT);
    const r = await tlpipe(['run', file, '--runs', path.join(dir, 'runs')], dir);
    assert.equal(r.code, 0, r.stderr);
    const run = runOf(dir, 'over');
    const decision = readJson(path.join(run, 'summary.json')).test.decision;
    const { before, after: calibrated, temperature } = decision.calibration;
    console.log(
      `overconfident MNIST model: T = ${temperature.toFixed(3)}; test ECE ${before.ece.toFixed(4)} → ${calibrated.ece.toFixed(4)}, NLL ${before.nll.toFixed(4)} → ${calibrated.nll.toFixed(4)}; abstain 0.6 answers ${(decision.abstain.coverage * 100).toFixed(1)}% at accuracy ${decision.abstain.accuracyAnswered.toFixed(4)} (${decision.abstain.accuracyAll.toFixed(4)} on all)`,
    );
    assert.ok(temperature > 1, `an overconfident model is softened: T = ${temperature}`);
    assert.ok(calibrated.ece < before.ece, `ECE ${before.ece} → ${calibrated.ece}`);
    assert.ok(calibrated.nll < before.nll);
    assert.equal(calibrated.bins.length, 10);
    assert.ok(decision.abstain.coverage > 0 && decision.abstain.coverage < 1);
    assert.ok(decision.abstain.accuracyAnswered > decision.abstain.accuracyAll);
    // Stored with the model, listed in its manifest; the report and tlpipe evaluate show it.
    const stored = readJson(path.join(run, 'model', 'decision.json'));
    assert.deepEqual(stored, { temperature, abstain: 0.6 });
    assert.ok(readJson(path.join(run, 'model', 'manifest.json')).files['decision.json']);
    const report = readFileSync(path.join(run, 'report.html'), 'utf8');
    assert.equal(report.match(/<svg class="reliability"/g)?.length, 3, 'the test diagram, and before and after');
    assert.match(report, /id="temperature"/);
    assert.match(report, /id="abstain"/);
    const evaluated = await tlpipe(['evaluate', run], dir);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.match(
      evaluated.stdout,
      new RegExp(
        `temperature ${temperature.toFixed(3)}: expected calibration error ${before.ece.toFixed(4)} → ${calibrated.ece.toFixed(4)}`,
      ),
    );
    assert.match(evaluated.stdout, /abstain below 0.6: answers/);

    const digits = await digitPngs(dir, 'test', () => true, 8);
    const files = digits.map((d) => d.file);
    const predicted = JSON.parse(
      `[${(await tlpipe(['predict', run, ...files, '--json', '--top', '10'], dir)).stdout.trim().split('\n').join(',')}]`,
    ) as Predicted[];
    assert.equal(predicted.length, files.length);
    const loaded = await loadModel(run, { backend: 'wasm' });
    assert.ok(loaded.ok, JSON.stringify(loaded.diagnostics));
    const classified = await loaded.value.classify(files, { top: 10 });
    loaded.value.dispose();
    for (const [i, p] of predicted.entries()) {
      const top = Math.max(...p.top.map((t) => t.probability));
      assert.equal(p.unsure, top < 0.6, `${p.file}: top ${top}`);
      assert.equal(p.label, p.unsure ? 'unsure' : p.top[0]!.label);
      const library = classified.predictions[i]!;
      assert.equal(library.label, p.label);
      assert.equal(library.unsure, p.unsure);
      const a = byLabel(p.top);
      for (const t of library.top)
        assert.ok(Math.abs(t.probability - a[t.label]!) < 1e-5, `${t.label}: ${t.probability} vs ${a[t.label]}`);
    }
    assert.ok(predicted.some((p) => p.unsure) && predicted.some((p) => !p.unsure), 'some answered, some unsure');
    // The text output says it too.
    const text = await tlpipe(['predict', run, ...files], dir);
    assert.match(text.stdout, /: unsure — /);

    // serve answers through loadModel's classify: the same label, unsure and probabilities.
    const server = await startServe(run, dir, ['--backend', 'wasm']);
    try {
      const name = String(server.listening['model'] ?? 'over');
      const answer = await postJson(`${server.url}/v1/models/${name}:predict`, {
        instances: files.map((f) => ({ b64: readFileSync(f).toString('base64') })),
        top: 10,
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      (answer.body.predictions as { label: string; unsure?: boolean; probabilities: Record<string, number> }[]).forEach(
        (s, i) => {
          assert.equal(s.label, predicted[i]!.label);
          assert.equal(s.unsure, predicted[i]!.unsure);
          const a = byLabel(predicted[i]!.top);
          for (const [label, probability] of Object.entries(s.probabilities))
            assert.ok(Math.abs(probability - a[label]!) < 1e-5);
        },
      );
    } finally {
      await server.stop();
    }

    // The browser page applies the same rule to the same image (skipped where no Chromium is installed).
    if (browserSkip) return;
    const labels = readJson(path.join(run, 'model', 'labels.json')) as string[];
    for (const [i, image] of files.slice(0, 2).entries()) {
      const page = pageAnswer(path.join(run, 'model', 'index.html'), image);
      assert.equal(page.label, predicted[i]!.label);
      assert.equal(page.unsure, predicted[i]!.unsure);
      const a = byLabel(predicted[i]!.top);
      labels.forEach((label, c) =>
        assert.ok(
          Math.abs(page.probabilities[c]! - a[label]!) < 1e-5,
          `${label}: page ${page.probabilities[c]} vs predict ${a[label]}`,
        ),
      );
    }
  });

  const twoClasses = path.join(dir, 'four-or-nine');
  it('two classes: a threshold tuned on validation is stored, shown beside argmax, and decides every answer', async () => {
    for (const [name, digit] of [
      ['four', 4],
      ['nine', 9],
    ] as const) {
      mkdirSync(path.join(twoClasses, 'digits', name), { recursive: true });
      await digitPngs(path.join(twoClasses, 'digits', name), 'train', (l) => l === digit, 30);
    }
    const file = write(twoClasses, 'p.yaml', FOUR_OR_NINE);
    const r = await tlpipe(['run', file, '--runs', path.join(twoClasses, 'runs')], twoClasses);
    assert.equal(r.code, 0, r.stderr);
    const run = runOf(twoClasses, 'fourornine');
    const threshold = readJson(path.join(run, 'summary.json')).test.decision.threshold;
    console.log(
      `four or nine: threshold ${threshold.value} on four; test tuned ${JSON.stringify(threshold.tuned)} vs argmax ${JSON.stringify(threshold.argmax)}`,
    );
    assert.equal(threshold.positive, 'four');
    assert.ok(threshold.validation.recall >= 0.95, `validation recall ${threshold.validation.recall}`);
    // A threshold below argmax's answers four more often, so it keeps at least as many fours (and the reverse above).
    if (threshold.value < 0.5) assert.ok(threshold.tuned.recall >= threshold.argmax.recall);
    else assert.ok(threshold.tuned.recall <= threshold.argmax.recall);
    const stored = readJson(path.join(run, 'model', 'decision.json'));
    assert.deepEqual(stored.threshold, {
      positive: 'four',
      value: threshold.value,
      metric: 'precisionAtRecall',
      recall: 0.95,
    });
    assert.match(readFileSync(path.join(run, 'report.html'), 'utf8'), /id="threshold"/);
    const images = readdirSync(path.join(twoClasses, 'digits', 'nine'))
      .slice(0, 6)
      .map((f) => path.join(twoClasses, 'digits', 'nine', f));
    const predicted = JSON.parse(
      `[${(await tlpipe(['predict', run, ...images, '--json'], twoClasses)).stdout.trim().split('\n').join(',')}]`,
    ) as Predicted[];
    for (const p of predicted) {
      const four = byLabel(p.top)['four']!;
      assert.equal(
        p.label,
        four >= threshold.value ? 'four' : 'nine',
        `${p.file}: p(four) ${four}, threshold ${threshold.value}`,
      );
      assert.equal(p.unsure, false);
    }
  });

  it('a damaged or hostile decision.json is refused with a clear message, never a stack trace', async () => {
    const run = runOf(twoClasses, 'fourornine');
    const image = path.join(twoClasses, 'digits', 'four', readdirSync(path.join(twoClasses, 'digits', 'four'))[0]!);
    const cases: { name: string; edit: (model: string) => Promise<void>; message: RegExp }[] = [
      {
        name: 'a negative temperature',
        edit: rewritten('{"temperature": -1}'),
        message: /temperature is -1; it must be a number from 0.01 to 100/,
      },
      { name: 'a huge temperature', edit: rewritten('{"temperature": 1e308}'), message: /temperature is 1e\+308/ },
      { name: 'NaN', edit: rewritten('{"temperature": NaN}'), message: /decision\.json is not valid JSON/ },
      {
        name: 'an unknown positive class',
        edit: rewritten('{"threshold": {"positive": "seven", "value": 0.5, "metric": "f1"}}'),
        message: /positive class `seven` is not one of the model's classes \(four, nine\)/,
      },
      {
        name: 'a threshold outside [0, 1]',
        edit: rewritten('{"threshold": {"positive": "four", "value": -0.2, "metric": "f1"}}'),
        message: /threshold is -0.2; it must be a probability from 0 to 1/,
      },
      {
        name: 'edited after the export (the manifest not rewritten)',
        edit: async (model) => writeFileSync(path.join(model, 'decision.json'), '{"temperature": 0.05}'),
        message: /decision\.json/,
      },
      {
        name: 'added where the manifest does not list it',
        edit: async (model) => {
          rmSync(path.join(model, 'decision.json'));
          await writeFolderManifest(model);
          writeFileSync(path.join(model, 'decision.json'), '{"abstain": 0.99}');
        },
        message: /decision\.json is not listed in manifest\.json/,
      },
    ];
    for (const [i, c] of cases.entries()) {
      const model = path.join(twoClasses, `hostile-${i}`);
      cpSync(path.join(run, 'model'), model, { recursive: true });
      await c.edit(model);
      // The library says it as a diagnostic (fast, in this process); the CLI, for two of them, without a stack trace.
      const loaded = await loadModel(model, { backend: 'wasm' });
      if (loaded.ok) loaded.value.dispose();
      assert.equal(loaded.ok, false, `${c.name}: accepted`);
      assert.match(loaded.diagnostics.map((d) => d.message).join('\n'), c.message, c.name);
      if (i % 4 !== 0) continue;
      const r = await tlpipe(['predict', model, image], twoClasses);
      assert.notEqual(r.code, 0, `${c.name}: accepted`);
      assert.match(r.stderr, c.message, c.name);
      assert.equal(hasStackTrace(r.stderr), false, `${c.name}: ${r.stderr}`);
    }
  });
});

/** decision.json replaced and the manifest rewritten to match: what only someone who means it does. */
function rewritten(text: string): (model: string) => Promise<void> {
  return async (model) => {
    writeFileSync(path.join(model, 'decision.json'), text);
    await writeFolderManifest(model);
  };
}
