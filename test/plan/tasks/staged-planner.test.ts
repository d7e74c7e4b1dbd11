import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { featureMode } from '../../../src/plan/compile-steps/feature-mode.js';
import { lossFor } from '../../../src/plan/compile-steps/head.js';
import { planClassification } from '../../../src/plan/tasks/classification.js';
import { planStaged, type StagedTaskPart } from '../../../src/plan/tasks/staged-planner.js';
import type { Plan } from '../../../src/plan/types.js';
import { compileSmall, smallPipeline, smallPlanInputs } from '../../fixtures/small-plan.js';

const { spec } = compileSmall(
  smallPipeline(['{ name: head, epochs: 2 }', "{ name: tune, epochs: 1, unfreeze: ['conv'] }"]),
);
const inputs = smallPlanInputs();
const CLASSIFICATION: StagedTaskPart = {
  features: (s, i, head) => featureMode(i, head, s.dataset.augment !== undefined),
  loss: lossFor,
};
const classification = planClassification(spec, inputs);
assert.ok(classification.ok);
const reference = classification.value;

const planWith = (part: Partial<StagedTaskPart>): Plan => {
  const result = planStaged(spec, inputs, {}, { ...CLASSIFICATION, ...part });
  assert.ok(result.ok, result.ok ? '' : result.diagnostics.map((d) => d.message).join('; '));
  return result.value;
};
const fingerprints = (plan: Plan): string[] => plan.tasks.map((t) => `${t.id} ${t.fingerprint}`);

/** Each thing a task may decide, changed alone: what it changes in the plan, and that the fingerprints do not move. */
describe("the staged planner: each part of a task's own", () => {
  const cases: { name: string; part: Partial<StagedTaskPart>; check: (plan: Plan) => void }[] = [
    {
      name: "classification's part: the plan planClassification makes, with no task tag",
      part: {},
      check: (plan) => {
        assert.deepEqual(plan, reference);
        assert.equal('task' in plan, false);
      },
    },
    {
      name: 'a task tag is added last, nothing else changes',
      part: { task: 'segmentation' },
      check: (plan) => {
        assert.equal(plan.task, 'segmentation');
        assert.deepEqual({ ...plan, task: undefined }, { ...reference, task: undefined });
      },
    },
    {
      name: 'descriptions of the evaluate and export tasks, fingerprints kept',
      part: { descriptions: { evaluate: 'score it', export: 'ship it' } },
      check: (plan) => {
        assert.deepEqual(
          plan.tasks.filter((t) => t.kind === 'evaluate' || t.kind === 'export').map((t) => t.description),
          ['score it', 'ship it'],
        );
        assert.deepEqual(fingerprints(plan), fingerprints(reference));
        assert.equal(plan.fingerprint, reference.fingerprint);
      },
    },
    {
      name: 'the loss kind',
      part: { loss: () => 'perPixelCategoricalCrossentropy' },
      check: (plan) => assert.equal(plan.loss, 'perPixelCategoricalCrossentropy'),
    },
    {
      name: 'images only: no features task, every stage through the whole model, for the reason given',
      part: { imagesOnly: 'targets per pixel' },
      check: (plan) => {
        assert.ok(reference.tasks.some((t) => t.kind === 'features'));
        assert.ok(plan.tasks.every((t) => t.kind !== 'features'));
        for (const stage of plan.stages) assert.equal(stage.whole, 'targets per pixel');
      },
    },
  ];
  for (const c of cases) it(c.name, () => c.check(planWith(c.part)));

  it("the task's head problems refuse the plan", () => {
    const result = planStaged(
      spec,
      inputs,
      {},
      {
        ...CLASSIFICATION,
        headProblems: (s, _i, head) => [
          { file: s.file, path: ['head', head.length - 1], message: 'not this head', severity: 'error' },
        ],
      },
    );
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? [] : result.diagnostics.map((d) => d.message), ['not this head']);
  });
});
