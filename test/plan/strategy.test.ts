import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePlan } from '../../src/plan/compile-plan.js';
import type { PlanInputs } from '../../src/plan/types.js';
import { loadPipelineText, resolvePipeline } from '../../src/format/load-pipeline.js';
import type { NamedStrategy } from '../../src/format/strategy.js';
import { decideStrategy } from '../../src/plan/strategy.js';

const HEAD = `dataset: { format: mnist }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
`;

const LAYERS = ['Conv1', 'block_6_expand_relu', 'block_13_expand', 'block_13_expand_relu', 'block_16_project', 'Conv_1', 'out_relu'];
const INPUTS: PlanInputs = {
  dataset: { digest: 'd'.repeat(64), numClasses: 10, counts: { train: 900, validation: 100, test: 100 }, trainPerClass: Array(10).fill(90) },
  base: { digest: 'b'.repeat(64), cutOutputShape: [2, 2, 1280], layerCount: LAYERS.length, paramCount: 700, layers: LAYERS.map((name) => ({ name, className: 'Conv2D', params: 100 })) },
};

function planOf(text: string) {
  const loaded = loadPipelineText('/p/p.yaml', text);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  const plan = compilePlan(loaded.value.spec, INPUTS);
  assert.ok(plan.ok, plan.ok ? '' : plan.diagnostics.map((d) => d.message).join('; '));
  return { spec: loaded.value.spec, plan: plan.value };
}

describe('named strategies compile to explicit cuts, freeze sets and stages', () => {
  const cases: { strategy: NamedStrategy; cut: string; stages: [name: string, trainableBaseLayers: number, rates: number[]][] }[] = [
    { strategy: 'head-only', cut: 'out_relu', stages: [['head', 0, [0.001]]] },
    { strategy: 'head-then-all', cut: 'out_relu', stages: [['head', 0, [0.001]], ['finetune', LAYERS.length, [0.00001, 0.00001]]] },
    { strategy: 'low-level', cut: 'block_13_expand_relu', stages: [['head', 0, [0.001]]] },
    { strategy: 'all', cut: 'out_relu', stages: [['all', LAYERS.length, [0.001, 0.0001]]] },
  ];
  for (const c of cases) {
    it(c.strategy, () => {
      const { spec, plan } = planOf(`${HEAD}strategy: ${c.strategy}\n`);
      assert.equal(spec.base.cut, c.cut);
      assert.deepEqual(plan.stages.map((s) => [s.name, s.trainableBaseLayers.length, s.parameterGroups.map((g) => g.learningRate)]), c.stages);
      assert.deepEqual(plan.strategy?.chosen, c.strategy);
      assert.deepEqual(Object.keys(plan.strategy!.filled).sort(), ['base', 'freeze', 'train']);
    });
  }

  it('keys written in the file win over what the strategy fills', () => {
    const { spec, plan } = planOf(`${HEAD}strategy: head-then-all\nbase: { cut: Conv_1 }\ntrain:\n  stages:\n    - { name: mine, epochs: 2 }\n`);
    assert.equal(spec.base.cut, 'Conv_1');
    assert.deepEqual(plan.stages.map((s) => s.name), ['mine']);
    assert.deepEqual(plan.strategy!.filled, { freeze: 'all' });
  });

  it('auto starts as head-only and keeps the file as written, to resolve again once measured', () => {
    const loaded = loadPipelineText('/p/p.yaml', `${HEAD}strategy: auto\n`);
    assert.ok(loaded.ok);
    const spec = loaded.value.spec;
    assert.deepEqual([spec.strategy?.requested, spec.strategy?.chosen], ['auto', 'head-only']);
    const chosen = resolvePipeline('/p/p.yaml', loaded.value.written, { strategy: 'low-level', cut: 'block_6_expand_relu' });
    assert.equal(chosen.base.cut, 'block_6_expand_relu');
    assert.deepEqual(chosen.strategy?.chosen, 'low-level');
  });
});

describe('the auto decision: data size × similarity', () => {
  const probes = (top: number, lower: number) => [{ cut: 'out_relu', accuracy: top }, { cut: 'block_13_expand_relu', accuracy: lower }, { cut: 'block_6_expand_relu', accuracy: lower - 0.1 }];
  const cases: { name: string; perClass: number; top: number; lower: number; chosen: NamedStrategy; cut: string }[] = [
    { name: 'small and similar', perClass: 100, top: 0.9, lower: 0.85, chosen: 'head-only', cut: 'out_relu' },
    { name: 'large and similar', perClass: 1000, top: 0.9, lower: 0.91, chosen: 'head-then-all', cut: 'out_relu' },
    { name: 'small and different', perClass: 100, top: 0.6, lower: 0.85, chosen: 'low-level', cut: 'block_13_expand_relu' },
    { name: 'large and different', perClass: 1000, top: 0.6, lower: 0.85, chosen: 'all', cut: 'out_relu' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = decideStrategy(c.perClass, probes(c.top, c.lower));
      assert.deepEqual([decision.chosen, decision.cut], [c.chosen, c.cut]);
    });
  }

  it('explains itself in one sentence', () => {
    assert.equal(
      decideStrategy(100, probes(0.86, 0.9)).sentence,
      'chose low-level: 100 images/class (small: < 300); probe accuracy block_13_expand_relu 0.90 vs out_relu 0.86 (different from what the base learned)',
    );
  });
});
