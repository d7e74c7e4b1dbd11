import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePlan } from '../../src/plan/compile-plan.js';
import { describeSource } from '../../src/plan/compile-steps/setup-tasks.js';
import type { PlanInputs, SourceFacts } from '../../src/plan/types.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';

const pipeline = (sourceKeys: string): string => `name: p
dataset:
  format: idx
  train: { images: a, labels: b }
  test: { images: c, labels: d }
  source:
    format: csv
    file: more.csv
${sourceKeys
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { name: head, epochs: 1 }
`;

/** The same facts for every case: the same file, class counts and weights, so only the reader keys can tell them apart. */
const SOURCE: SourceFacts = {
  digest: 's'.repeat(64),
  weightsDigest: 'w'.repeat(64),
  examples: 20,
  perClass: [10, 10],
  mapped: [
    { from: '0', to: '0' },
    { from: '1', to: '1' },
  ],
  dropped: [],
  weight: 0.3,
  decay: 1,
};

const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 2,
    counts: { train: 40, validation: 10, test: 10 },
    trainPerClass: [20, 20],
    source: SOURCE,
  },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [3, 3, 8],
    layerCount: 1,
    paramCount: 864,
    layers: [{ name: 'Conv1', className: 'Conv2D', params: 864, outputElements: 72 }],
  },
};

function dataFingerprint(sourceKeys: string): string {
  const loaded = loadPipelineText('/p/p.yaml', pipeline(sourceKeys));
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  const result = compilePlan(loaded.value.spec, INPUTS);
  assert.ok(result.ok, result.ok ? '' : result.diagnostics.map((d) => d.message).join('; '));
  return result.value.tasks.find((t) => t.kind === 'data')!.fingerprint;
}

describe("the data task's fingerprint holds the source's reader keys", () => {
  const BASE = 'labelColumn: label\nimageColumn: image\nweight: 0.3';
  const cases: { name: string; keys: string }[] = [
    { name: 'another labelColumn of the same file', keys: 'labelColumn: other\nimageColumn: image\nweight: 0.3' },
    { name: 'another imageColumn', keys: 'labelColumn: label\nimageColumn: picture\nweight: 0.3' },
    { name: 'classNames given', keys: `${BASE}\nclassNames: [a, b]` },
    { name: 'a per-class limit', keys: `${BASE}\nlimit: { perClass: 5 }` },
    { name: 'onBadFile: skip', keys: `${BASE}\nonBadFile: skip` },
  ];
  for (const c of cases)
    it(`${c.name}: a different data fingerprint, with the same facts`, () => {
      assert.notEqual(dataFingerprint(c.keys), dataFingerprint(BASE));
    });

  it('the same keys give the same fingerprint', () => assert.equal(dataFingerprint(BASE), dataFingerprint(BASE)));
});

describe("the source's line counts its examples in words", () => {
  for (const { perClass, says } of [
    { perClass: [1, 0], says: /^source: 1 training example \(0 1\), weight 0\.3$/ },
    { perClass: [1, 1], says: /^source: 2 training examples \(0 1, 1 1\), weight 0\.3$/ },
  ])
    it(says.source, () => {
      const examples = perClass.reduce((a, b) => a + b, 0);
      assert.match(describeSource({ ...SOURCE, examples, perClass }, ['0', '1']), says);
    });
});
