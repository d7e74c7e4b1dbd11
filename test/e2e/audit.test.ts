import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { precisionRecall, writeFaultyDigits, type PlantedTruth } from './audit-faults.js';
import { hasStackTrace, readJson, tlpipe, workspace, write } from './cli-harness.js';

/** 32×32 inputs, MobileNetV2 cut at block_2_add, its 8×8×24 maps flattened: measured to give the audit good enough features (out-of-fold accuracy ≈ 0.95). */
const PIPELINE = `name: digits
seed: 1
backend: wasm
dataset:
  format: imageFolder
  dir: data/train
  testDir: data/test
  validation: 0.1
  image: { size: [32, 32] }
base: { cut: block_2_add }
head:
  - flatten: {}
  - dense: { units: classes, activation: softmax }
evaluate: { audit: true }
train:
  stages:
    - { epochs: 1 }
`;

/** Every file under `dir` with its sha256: the audit must leave the user's data as it was. */
function digestTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string): void => {
    for (const name of readdirSync(d)) {
      const file = path.join(d, name);
      if (statSync(file).isDirectory()) visit(file);
      else out.set(file, createHash('sha256').update(readFileSync(file)).digest('hex'));
    }
  };
  visit(dir);
  return out;
}

describe('tlpipe audit on real MNIST digits with planted faults', () => {
  const dir = workspace('audit');
  let truth: PlantedTruth;
  let before_: Map<string, string>;
  before(async () => {
    // 100 training and 20 test digits per class; 5% of the 3s labelled 5; 5 test digits copied into train as they are
    // and 5 shifted by a pixel and recompressed as JPEG; every 6 brighter.
    truth = await writeFaultyDigits(dir, {
      classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      trainPerClass: 100,
      testPerClass: 20,
      flip: { from: 3, to: 5, share: 0.05 },
      leaks: { exact: 5, shifted: 5 },
      bright: { digit: 6, by: 70 },
    });
    write(dir, 'digits.yaml', PIPELINE);
    before_ = digestTree(path.join(dir, 'data'));
  });

  it('finds the flipped labels, every leak, the bright class; writes audit.json, audit.html and the fixes, and changes no file of the data', async () => {
    const r = await tlpipe(['audit', 'digits.yaml', '--fix', 'fixes.csv', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const { audit, dir: auditDir, paths } = JSON.parse(r.stdout);
    assert.equal(path.relative(dir, auditDir), path.join('runs', 'digits', 'audits', '0001'));

    const flagged = audit.labelIssues.shown.map((e: { name: string }) => e.name);
    const labels = precisionRecall(flagged, truth.flipped);
    const leakPairs = audit.duplicates.leaks.map(
      (p: { a: { name: string }; b: { name: string } }) => `${p.a.name} ${p.b.name}`,
    );
    const leaks = precisionRecall(
      leakPairs,
      truth.leaks.map((l) => `${l.test} ${l.train}`),
    );
    const exact = precisionRecall(
      audit.duplicates.leaks
        .filter((p: { exact: boolean }) => p.exact)
        .map((p: { a: { name: string }; b: { name: string } }) => `${p.a.name} ${p.b.name}`),
      truth.leaks.filter((l) => l.exact).map((l) => `${l.test} ${l.train}`),
    );
    console.log(
      `flipped labels: ${flagged.length} flagged, precision ${labels.precision.toFixed(2)}, recall ${labels.recall.toFixed(2)} (${truth.flipped.length} planted); ` +
        `leaks: ${leakPairs.length} pairs, precision ${leaks.precision.toFixed(2)}, recall ${leaks.recall.toFixed(2)} (${truth.leaks.length} planted); ` +
        `exact leaks recall ${exact.recall.toFixed(2)}`,
    );
    assert.ok(labels.recall >= 0.8 && labels.precision >= 0.5, `label errors: ${JSON.stringify(labels)}`);
    assert.equal(exact.recall, 1, 'every exact copy of a test image in train is found');
    assert.ok(leaks.recall >= 0.8, `leaks: ${JSON.stringify(leaks)}`);
    for (const issue of audit.labelIssues.shown.filter((e: { name: string }) => truth.flipped.includes(e.name)))
      assert.equal(audit.classes[issue.suggested], '3', `${issue.name} is a 3`);
    assert.deepEqual(
      audit.imageStatistics.outliers
        .filter((o: { statistic: string }) => o.statistic === 'brightness')
        .map((o: { class: number; direction: string }) => [audit.classes[o.class], o.direction]),
      [[truth.brightClass, 'higher']],
    );
    assert.equal(audit.balance.warn, false);
    assert.ok(audit.shift.auroc > 0.3 && audit.shift.auroc < 0.75, `no shift planted: AUROC ${audit.shift.auroc}`);

    // audit.json is the file read back; audit.html shows the pairs' thumbnails.
    const stored = readJson(paths.json);
    assert.equal(stored.labelIssues.total, audit.labelIssues.total);
    const html = readFileSync(paths.html, 'utf8');
    assert.match(html, /Likely label errors/);
    assert.ok(
      (html.match(/<img class="thumbnail" src="data:image\/png;base64,/g) ?? []).length >= 2 * truth.leaks.length,
    );
    assert.doesNotMatch(html, /<script/);

    // The fixes: a relabel for each flagged example, a removal for each held-out exact copy.
    const rows = readFileSync(path.join(dir, 'fixes.csv'), 'utf8').trim().split('\n');
    assert.equal(rows[0], 'example,split,given,suggested,reason,score');
    for (const name of truth.flipped.filter((f) => flagged.includes(f)))
      assert.ok(
        rows.some((row) => row.startsWith(`${name},`) && row.includes(',5,3,')),
        `${name} relabelled 3`,
      );
    for (const leak of truth.leaks.filter((l) => l.exact))
      assert.ok(
        rows.some((row) => row.startsWith(`${leak.test},test,`) && row.includes(',remove,')),
        `${leak.test} removed`,
      );
    assert.match(r.stderr, /features train: extracting/);
    assert.deepEqual(digestTree(path.join(dir, 'data')), before_, 'the data is unchanged');
  });

  it('a run with evaluate: { audit: true } reuses the features, and its report has the audit', async () => {
    const r = await tlpipe(['run', 'digits.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    // The audit above extracted every split once; neither the run's audit nor its training extracts again.
    assert.doesNotMatch(r.stderr, /features \w+: extracting/);
    assert.match(r.stderr, /features train: \d+ examples from the stage cache/);
    assert.match(r.stderr, /data audit \(audit\.json, report\.html\): \d+ likely label errors/);
    const runDir = path.join(
      dir,
      'runs',
      'digits',
      readdirSync(path.join(dir, 'runs', 'digits')).find((d) => /^\d{4}-/.test(d))!,
    );
    assert.ok(existsSync(path.join(runDir, 'audit.json')));
    const report = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    assert.match(report, /<h2 id="audit">Data audit<\/h2>/);
    assert.match(report, /id="audit-leaks">10</);
  });

  const refusals: { name: string; args: string[]; message: RegExp }[] = [
    {
      name: 'a --fix file inside the dataset',
      args: ['--fix', 'data/train/fixes.csv'],
      message: /would write into the pipeline's own files/,
    },
    { name: 'one fold', args: ['--folds', '1'], message: /folds must be an integer from 2 to 20, got 1/ },
    { name: 'a threshold above 1', args: ['--threshold', '1.5'], message: /similarity threshold must be in \(0, 1\]/ },
  ];
  for (const c of refusals)
    it(`refuses ${c.name}: a clear message, exit 1, nothing written`, async () => {
      const r = await tlpipe(['audit', 'digits.yaml', ...c.args], dir);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, c.message);
      assert.ok(!hasStackTrace(r.stderr), r.stderr);
      assert.ok(!existsSync(path.join(dir, 'data', 'train', 'fixes.csv')));
    });
});
