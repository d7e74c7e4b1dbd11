import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { featureMode } from '../../../src/plan/compile-steps/feature-mode.js';
import { headParamCount, resolveHead } from '../../../src/plan/compile-steps/head.js';
import { planStage } from '../../../src/plan/compile-steps/plan-stage.js';
import { setupTasks } from '../../../src/plan/compile-steps/setup-tasks.js';
import { noStagesYet, type StagesSoFar } from '../../../src/plan/compile-steps/stages-so-far.js';
import { trainableBaseLayers } from '../../../src/plan/compile-steps/trainable-base-layers.js';
import type { PlanInputs } from '../../../src/plan/types.js';
import { INPUTS, spec, WITHOUT_GRAPH } from './facts.js';

/** Every accumulator the reduction over the stages passes through, after the first. */
function steps(stages: string[], inputs: PlanInputs = INPUTS, splitPrefix = true): StagesSoFar[] {
  const s = spec(stages);
  const { head } = resolveHead(s, inputs);
  const context = {
    spec: s,
    inputs,
    head,
    features: featureMode(inputs, head, false),
    trainableByStage: trainableBaseLayers(s, inputs).byStage,
    headParams: headParamCount(head, inputs.base.cutOutputShape),
    splitPrefix,
  };
  const all = [noStagesYet(setupTasks(s, inputs, head))];
  for (const stage of s.train.stages) all.push(planStage(context)(all[all.length - 1]!, stage));
  return all.slice(1);
}

/** Per stage: the tasks it added, then what it carries on (previous, baseSetBy, shared features), then what it trains on, made from which task's base. */
type Step = [added: string[], previous: string, baseSetBy: string, features: string | undefined, trainsOn: string];

function seen(all: StagesSoFar[]): Step[] {
  return all.map((after, i) => {
    const before = i === 0 ? 3 : all[i - 1]!.tasks.length;
    const stage = after.stages[after.stages.length - 1]!;
    const train = after.tasks.find((t) => t.id === stage.taskId);
    const input = after.tasks.find((t) => train?.kind === 'train' && t.id === train.features);
    const of = input ? ` of ${input.dependsOn[1]}` : '';
    const trainsOn =
      (stage.frozenPrefix
        ? `prefix above ${stage.frozenPrefix.boundary}`
        : (stage.whole ?? (stage.trainable === 'head' ? 'features' : '?'))) + of;
    return [after.tasks.slice(before).map((t) => t.id), after.previous, after.baseSetBy, after.features?.id, trainsOn];
  });
}

describe('planStage, the reducer over stages', () => {
  const cases: { name: string; stages: string[]; inputs?: PlanInputs; splitPrefix?: boolean; steps: Step[] }[] = [
    {
      name: 'head-only stages share the features the first one made',
      stages: ['{ name: a, epochs: 1 }', '{ name: b, epochs: 2 }'],
      steps: [
        [['features:a', 'train:a'], 'train:a', 'base', 'features:a', 'features of base'],
        [['train:b'], 'train:b', 'base', 'features:a', 'features of base'],
      ],
    },
    {
      name: 'a fine-tuning stage trains above its frozen prefix and becomes what set the base; the head stage after it gets new features',
      stages: ["{ name: tune, epochs: 1, unfreeze: ['Conv_1'] }", "{ name: c, epochs: 1, freeze: ['Conv_1'] }"],
      steps: [
        [['prefix:tune', 'train:tune'], 'train:tune', 'train:tune', undefined, 'prefix above block_16_project of base'],
        [['features:c', 'train:c'], 'train:c', 'train:tune', 'features:c', 'features of train:tune'],
      ],
    },
    {
      name: 'a second stage above the same untouched prefix reuses its output',
      stages: ["{ name: t1, epochs: 1, unfreeze: ['Conv_1'] }", '{ name: t2, epochs: 1 }'],
      steps: [
        [['prefix:t1', 'train:t1'], 'train:t1', 'train:t1', undefined, 'prefix above block_16_project of base'],
        [['train:t2'], 'train:t2', 'train:t2', undefined, 'prefix above block_16_project of base'],
      ],
    },
    {
      name: 'a prefix holding a layer an earlier stage trained depends on that stage',
      stages: [
        "{ name: t1, epochs: 1, unfreeze: ['block_16_project'] }",
        "{ name: t2, epochs: 1, unfreeze: ['Conv_1'], freeze: ['block_16_project'] }",
      ],
      steps: [
        [['prefix:t1', 'train:t1'], 'train:t1', 'train:t1', undefined, 'prefix above block_16_expand_BN of base'],
        [['prefix:t2', 'train:t2'], 'train:t2', 'train:t2', undefined, 'prefix above block_16_project of train:t1'],
      ],
    },
    {
      name: 'the prefix switched off: images through the whole model, said why',
      stages: ["{ name: tune, epochs: 1, unfreeze: ['Conv_1'] }"],
      splitPrefix: false,
      steps: [
        [['train:tune'], 'train:tune', 'train:tune', undefined, 'the frozen prefix is off (TLPIPE_FROZEN_PREFIX=0)'],
      ],
    },
    {
      name: 'a base without its layer graph cannot be split',
      stages: ["{ name: tune, epochs: 1, unfreeze: ['Conv_1'] }"],
      inputs: WITHOUT_GRAPH,
      steps: [[['train:tune'], 'train:tune', 'train:tune', undefined, "the base's layer graph is not recorded"]],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(seen(steps(c.stages, c.inputs, c.splitPrefix)), c.steps));
  }

  it('numbers epochs across stages and says which stage last trained each base layer', () => {
    const [first, second] = steps([
      "{ name: a, epochs: 3, unfreeze: ['Conv_1'] }",
      "{ name: b, epochs: 2, unfreeze: ['block_16_project'] }",
    ]);
    assert.deepEqual(
      second!.stages.map((s) => [s.firstEpoch, s.lastEpoch]),
      [
        [1, 3],
        [4, 5],
      ],
    );
    assert.equal(second!.epochs, 5);
    assert.deepEqual([...first!.lastTrainedBy], [['Conv_1', 'train:a']]);
    assert.deepEqual(
      [...second!.lastTrainedBy],
      [
        ['Conv_1', 'train:b'],
        ['block_16_project', 'train:b'],
      ],
    );
  });

  it('leaves the accumulator it was given as it was', () => {
    const s = spec(["{ name: tune, epochs: 1, unfreeze: ['Conv_1'] }"]);
    const { head } = resolveHead(s, INPUTS);
    const start = noStagesYet(setupTasks(s, INPUTS, head));
    const copy = structuredClone(start);
    planStage({
      spec: s,
      inputs: INPUTS,
      head,
      features: featureMode(INPUTS, head, false),
      trainableByStage: trainableBaseLayers(s, INPUTS).byStage,
      headParams: 0,
      splitPrefix: true,
    })(start, s.train.stages[0]!);
    assert.deepEqual(start, copy);
  });
});
