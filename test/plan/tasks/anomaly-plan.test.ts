import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePlan } from '../../../src/plan/compile-plan.js';
import { MAX_BANK_BYTES } from '../../../src/plan/tasks/anomaly.js';
import type { PlanInputs } from '../../../src/plan/types.js';
import { loadPipelineText } from '../../../src/format/load-pipeline.js';
import type { PipelineSpec } from '../../../src/format/types.js';

/** Facts as the engine gathers them for the zoo's mobilenet_v2 at 64×64, the layers around the default patch layers. */
const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 3,
    classNames: ['good', 'cracked', 'scratched'],
    counts: { train: 90, validation: 15, test: 30 },
    trainPerClass: [40, 30, 20],
  },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [2, 2, 1280],
    layerCount: 6,
    paramCount: 2257984,
    layers: [
      { name: 'Conv1', className: 'Conv2D', params: 864, outputShape: [32, 32, 32] },
      { name: 'block_3_expand_relu', className: 'ReLU', params: 0, outputShape: [16, 16, 144] },
      { name: 'block_6_expand_relu', className: 'ReLU', params: 0, outputShape: [8, 8, 192] },
      { name: 'block_6_depthwise', className: 'DepthwiseConv2D', params: 1728, outputShape: [4, 4, 192] },
      { name: 'block_13_expand_relu', className: 'ReLU', params: 0, outputShape: [4, 4, 576] },
      { name: 'wide_relu', className: 'ReLU', params: 0, outputShape: [2, 2, 4096] },
      { name: 'global_pool', className: 'GlobalAveragePooling2D', params: 0, outputShape: [1280] },
      { name: 'out_relu', className: 'ReLU', params: 0, outputShape: [2, 2, 1280] },
    ],
  },
};

function spec(anomaly: string, model = 'mobilenet_v2'): PipelineSpec {
  const loaded = loadPipelineText(
    '/p/p.yaml',
    `task: anomaly\ndataset:\n  format: imageFolder\n  dir: data\n  test: 0.2\n  image: { size: [64, 64] }\nbase: { model: ${model}${model === 'mobilenet_v2' ? '' : ', cut: out_relu'} }\nanomaly: ${anomaly}\n`,
  );
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  return loaded.value.spec;
}

describe('planning task: anomaly', () => {
  it('data → base → bank → evaluate → export, nothing trains, the base cut at the deepest patch layer', () => {
    const result = compilePlan(spec('{ normal: [good] }'), INPUTS);
    assert.ok(result.ok);
    const plan = result.value;
    assert.equal(plan.task, 'anomaly');
    assert.deepEqual(
      plan.tasks.map((t) => t.kind),
      ['data', 'base', 'bank', 'evaluate', 'export'],
    );
    assert.deepEqual(plan.stages, []);
    assert.equal(plan.base.cut, 'block_13_expand_relu');
    // plan.json lists what the exported model keeps: the layers up to the cut, not the facts' (gathered at out_relu).
    assert.deepEqual(
      plan.base.layers.map((l) => l.name),
      ['Conv1', 'block_3_expand_relu', 'block_6_expand_relu', 'block_6_depthwise', 'block_13_expand_relu'],
    );
    assert.deepEqual(plan.base.cutOutputShape, [4, 4, 576]);
    assert.equal(plan.base.paramCount, 864 + 1728);
    assert.deepEqual(plan.anomaly, {
      normal: ['good'],
      normalClasses: [0],
      layers: ['block_6_expand_relu', 'block_13_expand_relu'],
      grid: [8, 8],
      channels: 192 + 576,
      coreset: 0.1,
      quantile: 0.99,
      // 40 normal training images × 8×8 patches, a tenth kept, 768 float32s each.
      bank: { patches: 256, bytes: 256 * 768 * 4, fromPatches: 40 * 64 },
    });
  });

  it('the bank settings are in its fingerprint; the normal classes too', () => {
    const fp = (anomaly: string): string => {
      const result = compilePlan(spec(anomaly), INPUTS);
      assert.ok(result.ok);
      return result.value.tasks.find((t) => t.kind === 'bank')!.fingerprint;
    };
    const first = fp('{ normal: [good] }');
    assert.equal(fp('{ normal: [good] }'), first);
    assert.notEqual(fp('{ normal: [good], coreset: 0.2 }'), first);
    assert.notEqual(fp('{ normal: [good, scratched] }'), first);
    assert.notEqual(fp('{ normal: [good], layers: [block_3_expand_relu] }'), first);
  });

  const REFUSED: { name: string; anomaly: string; model?: string; says: RegExp; at: string }[] = [
    {
      name: 'a normal class the data does not have, with the nearest name',
      anomaly: '{ normal: [goood] }',
      says: /no class is named `goood`.*did you mean `good`/s,
      at: 'anomaly.normal.0',
    },
    {
      name: 'every class normal: nothing to find',
      anomaly: '{ normal: [good, cracked, scratched] }',
      says: /every class is normal/,
      at: 'anomaly.normal',
    },
    {
      name: 'a layer the base does not have',
      anomaly: '{ normal: [good], layers: [block_3_expand_rel] }',
      says: /no layer `block_3_expand_rel`.*did you mean `block_3_expand_relu`/s,
      at: 'anomaly.layers.0',
    },
    {
      name: 'a layer that outputs a vector, not a feature map',
      anomaly: '{ normal: [good], layers: [global_pool] }',
      says: /not a feature map/,
      at: 'anomaly.layers.0',
    },
    {
      name: 'a base with no default patch layers',
      anomaly: '{ normal: [good] }',
      model: './base/model.json',
      says: /has no default patch layers/,
      at: 'anomaly',
    },
  ];
  for (const c of REFUSED) {
    it(`refused: ${c.name}`, () => {
      const result = compilePlan(spec(c.anomaly, c.model), INPUTS);
      assert.ok(!result.ok);
      const said = result.diagnostics.map((d) => `${d.message} ${d.hint ?? ''}`).join('\n');
      assert.match(said, c.says);
      assert.deepEqual(
        result.diagnostics.map((d) => d.path.join('.')),
        [c.at],
      );
    });
  }

  it('no validation split: refused, since the threshold comes from normal validation scores', () => {
    const none: PlanInputs = {
      ...INPUTS,
      dataset: { ...INPUTS.dataset, counts: { train: 90, validation: 0, test: 30 } },
    };
    const result = compilePlan(spec('{ normal: [good] }'), none);
    assert.ok(!result.ok);
    assert.deepEqual(
      result.diagnostics.map((d) => d.path.join('.')),
      ['dataset.validation'],
    );
    assert.match(result.diagnostics[0]!.hint ?? '', /validation: 0\.2/);
  });

  // 8×8 patches of 768 features from the default layers; wide_relu makes 2×2 of 4096.
  const TOO_MUCH: {
    name: string;
    normalImages: number;
    anomaly: string;
    says: RegExp;
    at: string;
    hint: RegExp;
  }[] = [
    {
      name: 'every normal patch held at once, over 1 GiB',
      normalImages: 6_000,
      anomaly: '{ normal: [good], coreset: 0.001 }',
      says: /held at once to choose the bank from: over tlpipe's 1024\.0 MiB/,
      at: 'dataset.limit',
      hint: /limit\.perClass/,
    },
    {
      name: 'the greedy coreset, over 2e9 comparisons',
      normalImages: 5_000,
      anomaly: '{ normal: [good], coreset: 0.5 }',
      says: /compares every patch with every one kept/,
      at: 'anomaly.coreset',
      hint: /lower `anomaly\.coreset`/,
    },
    {
      name: 'the bank itself, over its cap',
      normalImages: 5_000,
      anomaly: '{ normal: [good], coreset: 1, layers: [wide_relu] }',
      says: new RegExp(`over tlpipe's ${(MAX_BANK_BYTES / 2 ** 20).toFixed(1)} MiB`),
      at: 'anomaly.coreset',
      hint: /lower `anomaly\.coreset`/,
    },
  ];
  for (const c of TOO_MUCH) {
    it(`refused before anything runs: ${c.name}, with what to lower`, () => {
      const many: PlanInputs = { ...INPUTS, dataset: { ...INPUTS.dataset, trainPerClass: [c.normalImages, 30, 20] } };
      const result = compilePlan(spec(c.anomaly), many);
      assert.ok(!result.ok);
      assert.match(result.diagnostics[0]!.message, c.says);
      assert.equal(result.diagnostics[0]!.path.join('.'), c.at);
      assert.match(result.diagnostics[0]!.hint ?? '', c.hint);
    });
  }
});
