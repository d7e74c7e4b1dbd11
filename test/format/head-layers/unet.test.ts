import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { resolvePipeline } from '../../../src/format/load-pipeline.js';
import { unetFiltersPerSkip } from '../../../src/format/head-layers/unet.js';
import type { PipelineFile } from '../../../src/format/types.js';
import { resolveHead } from '../../../src/plan/compile-steps/head.js';
import { INPUTS } from '../../plan/compile-steps/facts.js';

const file = (head: string): PipelineFile =>
  parse(`name: p
dataset: { format: idx, train: { images: a, labels: b }, test: { images: c, labels: d } }
base: { model: mobilenet_v2 }
head:${head}
train: { stages: [{ name: a, epochs: 1 }] }
`) as PipelineFile;

/** TensorFlow's segmentation tutorial's decoder, written out key for key. */
const BY_HAND = `
  - upsample: { filters: 512, size: 3 }
  - concatenate: { with: block_13_expand_relu }
  - upsample: { filters: 256, size: 3 }
  - concatenate: { with: block_6_expand_relu }
  - upsample: { filters: 128, size: 3 }
  - concatenate: { with: block_3_expand_relu }
  - upsample: { filters: 64, size: 3 }
  - concatenate: { with: block_1_expand_relu }
  - conv2dTranspose: { filters: classes, kernelSize: 3, strides: 2, padding: same }`;

const planHead = (head: string) => {
  const { spec } = resolvePipeline('/p/p.yaml', file(head));
  return { spec, head: resolveHead(spec, INPUTS).head };
};

describe('head: unet', () => {
  const cases = [
    { name: 'the string', head: ' unet' },
    { name: 'the object with the default keys', head: ' { unet: {} }' },
    {
      name: 'the object with every key written',
      head: ` { unet: { skips: [block_13_expand_relu, block_6_expand_relu, block_3_expand_relu, block_1_expand_relu], filters: [512, 256, 128, 64], kernelSize: 3 } }`,
    },
  ];
  for (const c of cases) {
    it(`${c.name} resolves to the hand-written layers, and the plan's head is the same`, () => {
      const unet = planHead(c.head);
      const byHand = planHead(BY_HAND);
      assert.deepEqual(unet.spec.head, byHand.spec.head);
      assert.deepEqual(unet.head, byHand.head);
      assert.equal(unet.head.length, 9);
      assert.deepEqual(unet.head[8], {
        type: 'conv2dTranspose',
        filters: INPUTS.dataset.numClasses,
        kernelSize: [3, 3],
        strides: 2,
        padding: 'same',
        activation: 'linear',
        useBias: true,
      });
      // The tutorial's encoder output, filled when the file does not name a cut.
      assert.equal(unet.spec.base.cut, 'block_16_project');
    });
  }

  it('a skip list and a filter list of different lengths is refused', () => {
    const findings = unetFiltersPerSkip({ head: { unet: { skips: ['a', 'b'], filters: [8] } } });
    assert.deepEqual(
      findings.map((f) => f.path),
      [['head', 'unet', 'filters']],
    );
  });
});
