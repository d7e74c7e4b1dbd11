import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePlan } from '../../../src/plan/compile-plan.js';
import { INPUTS, spec } from '../../plan/compile-steps/facts.js';

const STAGE = ['{ name: head, epochs: 1 }'];
const head = (skip: string): string[] => [
  `concatenate: { with: ${skip} }`,
  'globalAveragePooling2d: {}',
  'dense: { units: classes, activation: softmax }',
];

describe('skip connections in the plan', () => {
  it('a head that reads a base layer trains through the whole model, and the plan says why', () => {
    const plan = compilePlan(spec(STAGE, '', head('block_16_expand')), INPUTS);
    assert.ok(plan.ok, plan.ok ? '' : plan.diagnostics.map((d) => d.message).join('; '));
    const [stage] = plan.value.stages;
    assert.equal(stage!.whole, 'the head reads base layer block_16_expand (a skip connection)');
    assert.equal(plan.value.tasks.filter((t) => t.kind === 'features').length, 0);
    // [3, 3, 1280 + 960] pooled, then one dense layer to the 4 classes.
    assert.equal(stage!.trainableParams, (1280 + 960) * 4 + 4);
  });

  const cases = [
    {
      name: 'a base layer that does not exist, with a did-you-mean',
      skip: 'block_16_expnd',
      message: 'the base has no layer named `block_16_expnd` to concatenate with',
      hint: 'did you mean `block_16_expand`?',
    },
    {
      name: 'a base layer of another height and width, naming both shapes',
      skip: 'Conv1',
      message:
        "`Conv1` outputs [48, 48, 32], which cannot be concatenated with the head's [3, 3, 1280] here: heights and widths must match",
      hint: "upsample the head to the skip layer's size first, or take the skip from a layer of the head's size",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = compilePlan(spec(STAGE, '', head(c.skip)), INPUTS);
      assert.ok(!plan.ok);
      assert.deepEqual(
        plan.diagnostics.map((d) => [d.path, d.message, d.hint]),
        [[['head', 0, 'concatenate', 'with'], c.message, c.hint]],
      );
    });
  }
});
