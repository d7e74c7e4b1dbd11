import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPipelineText } from '../../../src/format/load-pipeline.js';

const DATA = `dataset:
  format: mnist
  image: { size: [64, 64] }
`;
const HEAD = `head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train: { stages: [{ epochs: 1 }] }
`;

/** Each case: a pipeline, and what loading it says (nothing: it loads). */
const CASES: { name: string; text: string; says?: RegExp; at?: RegExp }[] = [
  { name: 'a classification pipeline loads as before', text: DATA + HEAD },
  { name: 'anomaly: normal classes and nothing to train', text: `task: anomaly\n${DATA}anomaly: { normal: ['1'] }\n` },
  {
    name: 'anomaly without `anomaly:` asks for the normal classes',
    text: `task: anomaly\n${DATA}`,
    says: /`task: anomaly` needs `anomaly: \{ normal: \[\.\.\.\] \}`/,
  },
  {
    name: 'anomaly with a head says the head is not used',
    text: `task: anomaly\n${DATA}anomaly: { normal: ['1'] }\n${HEAD}`,
    says: /`task: anomaly` trains nothing.*`head` is not used/,
  },
  {
    name: 'anomaly with a strategy says the strategy is not used',
    text: `task: anomaly\n${DATA}anomaly: { normal: ['1'] }\nstrategy: head-only\n`,
    says: /`strategy` is not used/,
  },
  {
    name: '`anomaly:` in a classification pipeline names its task',
    text: DATA + HEAD + `anomaly: { normal: ['1'] }\n`,
    says: /`anomaly` is read by `task: anomaly` only, and this pipeline's task is classification/,
  },
  {
    name: 'a classification pipeline without a head asks for one',
    text: DATA + 'train: { stages: [{ epochs: 1 }] }\n',
    says: /a classification pipeline needs a `head:`/,
  },
  {
    name: 'anomaly on table rows is refused',
    text: `task: anomaly\ndataset:\n  format: csv\n  file: rows.csv\n  labelColumn: y\n  featureColumns: [a, b]\nbase: { model: none }\nanomaly: { normal: ['1'] }\n`,
    says: /scores images by their local patch features; table rows have none/,
  },
  {
    name: 'an unknown task is refused with the tasks there are',
    text: `task: detection\n${DATA}${HEAD}`,
    says: /classification|anomaly/,
  },
  {
    name: 'anomaly with validation: test is refused (the threshold would be tuned on the test split)',
    text: `task: anomaly\ndataset:\n  format: mnist\n  validation: test\n  image: { size: [64, 64] }\nanomaly: { normal: ['1'] }\n`,
    says: /`validation: test` would tune it on the test split/,
  },
  {
    name: 'anomaly with a quantized export is refused (the bank is float32)',
    text: `task: anomaly\n${DATA}anomaly: { normal: ['1'] }\nexport: { quantize: uint8 }\n`,
    says: /`task: anomaly` has no quantized copy/,
  },
  {
    name: 'anomaly with augmentation is refused',
    text: `task: anomaly\ndataset:\n  format: mnist\n  augment: { rotate: 10 }\n  image: { size: [64, 64] }\nanomaly: { normal: ['1'] }\n`,
    says: /augmentation/,
  },
  {
    name: 'anomaly asking for a demo page is refused',
    text: `task: anomaly\n${DATA}anomaly: { normal: ['1'] }\nexport: { demoPage: true }\n`,
    says: /demo page/,
  },
  {
    name: 'an anomaly sweep ranked by a validation metric is refused: nothing trains, so none is recorded',
    text: `task: anomaly\n${DATA}anomaly: { normal: ['1'] }\nsweep: { parameters: { anomaly.coreset: { values: [0.05, 0.1] } }, metric: { name: val_accuracy } }\n`,
    says: /`task: anomaly` runs record no val_accuracy.*test_auroc, test_accuracy/s,
  },
  {
    name: 'a classification sweep ranked by test_auroc is refused',
    text: DATA + HEAD + `sweep: { parameters: { seed: { values: [1, 2] } }, metric: { name: test_auroc } }\n`,
    says: /`task: classification` runs record no test_auroc/,
  },
  {
    name: 'a classification sweep ranked by val_meanIoU is refused: only segmentation measures it',
    text: DATA + HEAD + `sweep: { parameters: { seed: { values: [1, 2] } }, metric: { name: val_meanIoU } }\n`,
    says: /`task: classification` runs record no val_meanIoU/,
  },
  {
    name: 'a coreset above 1 is refused by the schema',
    text: `task: anomaly\n${DATA}anomaly: { normal: ['1'], coreset: 1.5 }\n`,
    says: /coreset/,
  },
];

describe('task rules on real pipeline text', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const loaded = loadPipelineText('/p/p.yaml', c.text);
      if (!c.says) {
        assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
        return;
      }
      assert.ok(!loaded.ok, 'expected the pipeline to be refused');
      const said = loaded.diagnostics.map((d) => `${d.message} ${d.path?.join('.') ?? ''} ${d.hint ?? ''}`).join('\n');
      assert.match(said, c.says);
      // Every finding says where (a line) and how to go on.
      for (const d of loaded.diagnostics) assert.ok(d.line !== undefined, `no line for: ${d.message}`);
    });
  }

  it('a resolved anomaly pipeline has its defaults: coreset 0.1, quantile 0.99, layers left to the planner', () => {
    const loaded = loadPipelineText('/p/p.yaml', `task: anomaly\n${DATA}anomaly: { normal: ['1', '7'] }\n`);
    assert.ok(loaded.ok);
    assert.equal(loaded.value.spec.task, 'anomaly');
    assert.deepEqual(loaded.value.spec.anomaly, { normal: ['1', '7'], layers: [], coreset: 0.1, quantile: 0.99 });
    assert.deepEqual(loaded.value.spec.head, []);
    assert.deepEqual(loaded.value.spec.train.stages, []);
  });
});
