import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePlan } from '../../src/plan/compile-plan.js';
import type { Plan, PlanInputs, ShiftTask } from '../../src/plan/types.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';

const pipeline = (adapt: string, stages: string[]): string => `name: p
dataset:
  format: idx
  train: { images: a, labels: b }
  test: { images: c, labels: d }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
${stages.map((s) => `    - ${s}`).join('\n')}
${adapt}
`;

const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 2,
    counts: { train: 40, validation: 10, test: 10 },
    trainPerClass: [20, 20],
  },
  adapt: { images: 30, digest: 't'.repeat(64) },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [3, 3, 64],
    layerCount: 4,
    paramCount: 10000,
    layers: [
      { name: 'Conv1', className: 'Conv2D', params: 864, outputElements: 4096 },
      { name: 'bn_Conv1', className: 'BatchNormalization', params: 128, outputElements: 4096 },
      { name: 'Conv_1', className: 'Conv2D', params: 9000, outputElements: 576 },
    ],
  },
};

function compiled(text: string, inputs = INPUTS): Plan {
  const loaded = loadPipelineText('/p/p.yaml', text);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  const result = compilePlan(loaded.value.spec, inputs);
  assert.ok(result.ok, result.ok ? '' : result.diagnostics.map((d) => d.message).join('; '));
  return result.value;
}

const shift = (plan: Plan, when: ShiftTask['when']): ShiftTask | undefined =>
  plan.tasks.find((t): t is ShiftTask => t.kind === 'shift' && t.when === when);

const HEAD = '{ name: head, epochs: 1 }';
const TUNE = "{ name: tune, epochs: 1, unfreeze: ['Conv_1'] }";

describe('the shift tasks of a plan with adapt:', () => {
  for (const { name, adapt, stages, order, afterDependsOn } of [
    {
      name: 'adabn, head only: before right after the base (ahead of the adapt tasks), after on the target statistics',
      adapt: 'adapt: { images: target, method: adabn }',
      stages: [HEAD],
      order: [
        'data',
        'base',
        'shift:before',
        'adapt',
        'head',
        'features:head',
        'train:head',
        'adapt:target',
        'shift:after',
      ],
      afterDependsOn: ['data', 'adapt:target'],
    },
    {
      name: 'coral with a fine-tuning stage: after on the base as that stage left it',
      adapt: 'adapt: { images: target, method: coral, weight: 1 }',
      stages: [HEAD, TUNE],
      order: ['data', 'base', 'shift:before', 'head', 'features:head', 'train:head', 'train:tune', 'shift:after'],
      afterDependsOn: ['data', 'train:tune'],
    },
    {
      name: 'a head-only stage after the fine-tuning one changes no base: after still depends on the fine-tuning stage',
      adapt: 'adapt: { images: target, method: dann, weight: 0.1 }',
      stages: [TUNE, "{ name: last, epochs: 1, freeze: ['*'] }"],
      order: undefined,
      afterDependsOn: ['data', 'train:tune'],
    },
  ])
    it(name, () => {
      const plan = compiled(pipeline(adapt, stages));
      const ids = plan.tasks.map((t) => t.id).filter((id) => !['evaluate', 'export'].includes(id));
      if (order) assert.deepEqual(ids, order);
      assert.deepEqual(shift(plan, 'before')!.dependsOn, ['data', 'base']);
      assert.deepEqual(shift(plan, 'after')!.dependsOn, afterDependsOn);
      // Both are measured on the same images: the same sample, the same seed.
      assert.deepEqual(shift(plan, 'before')!.config, shift(plan, 'after')!.config);
    });

  it('a pipeline without adapt: has no shift task', () => {
    const plan = compiled(pipeline('', [HEAD]), { ...INPUTS, adapt: undefined } as PlanInputs);
    assert.equal(
      plan.tasks.some((t) => t.kind === 'shift'),
      false,
    );
  });

  it('fingerprints: other target images change both; another fine-tuning stage changes only after', () => {
    const base = compiled(pipeline('adapt: { images: target, method: coral }', [HEAD, TUNE]));
    const otherTarget = compiled(pipeline('adapt: { images: target, method: coral }', [HEAD, TUNE]), {
      ...INPUTS,
      adapt: { images: 30, digest: 'u'.repeat(64) },
    });
    const longerTuning = compiled(
      pipeline('adapt: { images: target, method: coral }', [HEAD, TUNE.replace('epochs: 1', 'epochs: 2')]),
    );
    const fp = (plan: Plan, when: ShiftTask['when']) => shift(plan, when)!.fingerprint;
    assert.notEqual(fp(otherTarget, 'before'), fp(base, 'before'));
    assert.notEqual(fp(otherTarget, 'after'), fp(base, 'after'));
    assert.equal(fp(longerTuning, 'before'), fp(base, 'before'));
    assert.notEqual(fp(longerTuning, 'after'), fp(base, 'after'));
  });

  it("with dataset.source: the training images counted are the pipeline's own, not the source's", () => {
    const source = {
      ...{ digest: 's'.repeat(64), weightsDigest: 'w'.repeat(64), examples: 15, perClass: [5, 10] },
      ...{ mapped: [], dropped: [], weight: 0.3, decay: 1 },
    };
    const plan = compiled(pipeline('adapt: { images: target, method: adabn }', [HEAD]), {
      ...INPUTS,
      dataset: { ...INPUTS.dataset, source },
    });
    assert.match(shift(plan, 'before')!.description, /, 25 training vs 30 target images/);
  });
});
