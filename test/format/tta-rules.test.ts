import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPipelineText } from '../../src/format/load-pipeline.js';

const IMAGES = `dataset:
  format: mnist
  image: { size: [32, 32] }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train: { stages: [{ epochs: 1 }] }
`;
const ROWS = `dataset:
  format: csv
  file: rows.csv
  labelColumn: y
  featureColumns: [a, b]
base: { model: none }
head:
  - dense: { units: classes, activation: softmax }
train: { stages: [{ epochs: 1 }] }
`;

/** Each case: a pipeline with `evaluate.tta`, and what loading it says (nothing: it loads, with these transforms). */
const CASES: { name: string; text: string; tta?: string[]; says?: RegExp; line?: number }[] = [
  { name: 'flip and crops on images', text: IMAGES + 'evaluate: { tta: [flip, crops] }\n', tta: ['flip', 'crops'] },
  { name: 'none by default', text: IMAGES, tta: [] },
  {
    name: 'on tabular rows: refused at the key',
    text: ROWS + 'evaluate:\n  tta: [flip]\n',
    says: /test-time augmentation \(flip\) transforms images, and this pipeline's examples are tabular rows/,
    line: 11,
  },
  {
    name: 'an unknown transform: refused by the schema',
    text: IMAGES + 'evaluate: { tta: [wobble] }\n',
    says: /flip|crops/,
  },
  {
    name: 'a transform twice: refused by the schema',
    text: IMAGES + 'evaluate: { tta: [flip, flip] }\n',
    says: /items 0 and 1 are the same/,
  },
  {
    name: 'for an anomaly task: refused (it has no class probabilities to average)',
    text: `task: anomaly\ndataset:\n  format: mnist\n  image: { size: [32, 32] }\nanomaly: { normal: ['1'] }\nevaluate: { tta: [flip] }\n`,
    says: /`evaluate.tta` is for classification/,
  },
];

describe('evaluate.tta on real pipeline text', () => {
  for (const c of CASES)
    it(c.name, () => {
      const loaded = loadPipelineText('/p/p.yaml', c.text);
      if (!c.says) {
        assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
        assert.deepEqual(loaded.value.spec.evaluate.tta, c.tta);
        return;
      }
      assert.ok(!loaded.ok, 'expected the pipeline to be refused');
      const said = loaded.diagnostics.map((d) => `${d.message} ${d.hint ?? ''}`).join('\n');
      assert.match(said, c.says);
      if (c.line !== undefined) assert.equal(loaded.diagnostics[0]!.line, c.line);
      for (const d of loaded.diagnostics) assert.ok(d.line !== undefined, `no line for: ${d.message}`);
    });
});
