import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/diagnostics/diagnostic.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';

/** A two-class image-folder pipeline, with `validation` and the `evaluate:` block as given. */
const pipeline = (evaluate: string, validation = '0.2', classes = '[cat, dog]'): string => `dataset:
  format: imageFolder
  dir: images
  classNames: ${classes}
  validation: ${validation}
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - epochs: 1
evaluate: ${evaluate}
`;

const load = (text: string) => loadPipelineText('/work/pipelines/p.yaml', text, { displayName: 'p.yaml' });
const said = (loaded: ReturnType<typeof load>): string =>
  loaded.ok
    ? loaded.warnings.map((d) => formatDiagnostic(d)).join('\n')
    : loaded.diagnostics.map((d) => formatDiagnostic(d)).join('\n');

describe('evaluate: the rules of the fitted keys', () => {
  const valid: { name: string; text: string }[] = [
    { name: 'calibrate on a validation fraction', text: pipeline('{ calibrate: temperature }') },
    {
      name: 'a threshold maximising F1 on two classes',
      text: pipeline('{ threshold: { metric: f1, positive: dog } }'),
    },
    {
      name: 'abstaining alone fits nothing, so it needs no validation split',
      text: pipeline('{ abstain: 0.7 }', '0'),
    },
    {
      name: 'k-fold validates on each fold, so calibrate needs no validation fraction of its own',
      text: pipeline('{ folds: 3, calibrate: temperature }', '0'),
    },
  ];
  for (const c of valid)
    it(`valid: ${c.name}`, () => {
      const loaded = load(c.text);
      assert.ok(loaded.ok, said(loaded));
    });

  const invalid: { name: string; text: string; message: RegExp; line: number }[] = [
    {
      name: 'calibrate without a validation split',
      text: pipeline('{ calibrate: temperature }', '0'),
      message: /fitted on the validation split, and this pipeline has none/,
      line: 12,
    },
    {
      name: 'a threshold fitted on the test split it is graded on',
      text: pipeline('{ threshold: { metric: f1 } }', 'test'),
      message: /would grade what was fitted on them/,
      line: 12,
    },
    {
      name: 'a threshold on three classes',
      text: pipeline('{ threshold: { metric: balancedAccuracy } }', '0.2', '[cat, dog, fox]'),
      message: /decides between two classes, and this dataset has 3/,
      line: 12,
    },
    {
      name: 'a positive class the dataset does not have',
      text: pipeline('{ threshold: { metric: f1, positive: fox } }'),
      message: /`fox` is not one of the classes \(cat, dog\)/,
      line: 12,
    },
    {
      name: 'precision at a recall without the recall',
      text: pipeline('{ threshold: { metric: precisionAtRecall } }'),
      message: /precisionAtRecall needs the recall to keep/,
      line: 12,
    },
    {
      name: 'abstain at a confidence of 1 (nothing would ever be answered)',
      text: pipeline('{ abstain: 1 }'),
      message: /abstain/,
      line: 12,
    },
    {
      name: 'the audit in every fold of a k-fold run',
      text: pipeline('{ folds: 3, audit: true }'),
      message: /would repeat it in each fold/,
      line: 12,
    },
  ];
  for (const c of invalid)
    it(`invalid: ${c.name}`, () => {
      const loaded = load(c.text);
      assert.equal(loaded.ok, false, 'loaded');
      assert.match(said(loaded), c.message);
      assert.ok(!loaded.ok && loaded.diagnostics.some((d) => d.line === c.line), said(loaded));
    });

  it('recall written for a metric that does not read it is a warning, not an error', () => {
    const loaded = load(pipeline('{ threshold: { metric: f1, recall: 0.9 } }'));
    assert.ok(loaded.ok, said(loaded));
    assert.match(said(loaded), /recall is read by metric precisionAtRecall only/);
  });
});
