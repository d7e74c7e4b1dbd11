import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readJson, tlpipe, workspace, write } from './cli-harness.js';
import { formatPlan } from '../../src/cli/format-plan.js';

describe('strategy: auto on real digits', () => {
  it('measures linear probes at the candidate cuts, chooses a cut below out_relu, and says why', async () => {
    const dir = workspace('auto');
    write(
      dir,
      'auto.yaml',
      `name: auto
seed: 4
backend: wasm
dataset: { format: mnist, limit: { perClass: 40, testPerClass: 5 }, image: { size: [64, 64] } }
strategy: auto
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
`,
    );
    const r = await tlpipe(['plan', 'auto.yaml', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const { strategy, base } = JSON.parse(r.stdout);
    assert.equal(strategy.requested, 'auto');
    assert.deepEqual(
      strategy.measurement.probes.map((p: { cut: string }) => p.cut),
      ['out_relu', 'block_13_expand_relu', 'block_6_expand_relu'],
    );
    for (const p of strategy.measurement.probes) assert.ok(p.accuracy >= 0 && p.accuracy <= 1);
    // Digits are not photos: a lower cut separates them better than the top features.
    assert.equal(strategy.chosen, 'low-level');
    assert.notEqual(base.cut, 'out_relu');
    assert.equal(base.cut, strategy.measurement.cut);
    assert.match(
      strategy.measurement.sentence,
      /^chose low-level: 36 images\/class \(small: < 300\); probe accuracy block_\d+_expand_relu 0\.\d\d vs out_relu 0\.\d\d \(different from what the base learned\)$/,
    );
    // The text form of the same plan, in this process (the CLI prints formatPlan's lines): a second `tlpipe plan`
    // would measure every probe again.
    const text = formatPlan(JSON.parse(r.stdout));
    assert.match(text, /^strategy auto → low-level\n {2}chose low-level/);
    // The line wraps at 100 columns.
    assert.match(
      text,
      /^ {2}linear probes \(24\/class fitted, 8\/class scored\):\s+out_relu\s+0\.\d\d,\s+block_13_expand_relu\s+0\.\d\d,\s+block_6_expand_relu\s+0\.\d\d$/m,
    );
  });
});

describe('baseline: scratch', () => {
  it('trains the same architecture from random initialisation and records it beside the transfer run', async () => {
    const dir = workspace('scratch');
    write(
      dir,
      's.yaml',
      `name: s
seed: 6
backend: wasm
dataset: { format: mnist, limit: { perClass: 6, testPerClass: 2 }, image: { size: [32, 32] } }
base: { cut: block_2_add }
baseline: scratch
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 10
  stages:
    - { name: head, epochs: 2, optimizer: { learningRate: 0.01 } }
`,
    );
    const r = await tlpipe(['run', 's.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^scratch head epoch 2 /m);
    const runDir = path.join(
      dir,
      'runs',
      's',
      readdirSync(path.join(dir, 'runs', 's')).find((n) => /^\d{4}-/.test(n))!,
    );
    const summary = readJson(path.join(runDir, 'summary.json'));
    assert.equal(summary.baseline.kind, 'scratch');
    assert.equal(summary.baseline.test.examples, summary.test.examples);
    assert.deepEqual(
      summary.baseline.stages.map((s: { name: string; epochsRun: number }) => [s.name, s.epochsRun]),
      [['head', 2]],
    );
    const rows = readFileSync(path.join(runDir, 'baseline-metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((row) => row.epoch),
      [1, 2],
    );
    const html = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    assert.match(html, /data-series="scratch val"/);
    assert.match(html, /id="baseline-accuracy">[01]\.\d{4}</);
    const plan = await tlpipe(['plan', 's.yaml'], dir);
    assert.match(plan.stdout, /^baseline: the same architecture and stages from random initialisation/m);
  });
});
