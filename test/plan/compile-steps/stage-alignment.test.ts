import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlanInputs } from '../../../src/plan/types.js';
import { compileSmall, smallPipeline, smallPlanInputs } from '../../fixtures/small-plan.js';

/** A head-only stage, then one that trains the base's `top` layer. */
const STAGES = ['{ name: head, epochs: 1 }', '{ name: tune, epochs: 2, unfreeze: [top] }'];
const withTarget = (digest = 't'.repeat(64), count = 40): PlanInputs => ({
  ...smallPlanInputs(),
  adapt: { images: count, digest },
});
const planOf = (adapt: string | undefined, inputs: PlanInputs = withTarget()) =>
  compileSmall(smallPipeline(STAGES, adapt ? { extra: `adapt: ${adapt}` } : {}), inputs).plan;
const tuneOf = (adapt: string | undefined, inputs?: PlanInputs) => planOf(adapt, inputs).stages[1]!;

describe('learned alignment in the plan (adapt.method coral | dann)', () => {
  it('only a stage that trains base layers aligns; it runs images through the whole model and says why', () => {
    const plan = planOf('{ images: target, method: coral, weight: 0.5 }');
    const [head, tune] = plan.stages;
    assert.equal(head!.alignment, undefined);
    assert.deepEqual(tune!.alignment, { method: 'coral', weight: 0.5, targetDigest: 't'.repeat(64), targetCount: 40 });
    assert.equal(tune!.frozenPrefix, undefined);
    assert.match(tune!.whole ?? '', /adapt\.method coral runs target images through the base/);
    const task = plan.tasks.find((t) => t.id === 'train:tune')!;
    assert.match(task.description, /aligned to 40 target image\(s\) by CORAL × 0\.5/);
    assert.equal(
      task.dependsOn.some((d) => d.startsWith('prefix:')),
      false,
    );
  });

  it('adabn adds no loss: no stage aligns', () => {
    // AdaBN needs a batch norm below the cut to plan at all.
    const withBatchNorm = smallPlanInputs([
      { name: 'conv', className: 'Conv2D', params: 10 },
      { name: 'bn', className: 'BatchNormalization', params: 32 },
      { name: 'top', className: 'ReLU', params: 0 },
    ]);
    const inputs: PlanInputs = { ...withBatchNorm, adapt: { images: 40, digest: 't'.repeat(64) } };
    assert.equal(tuneOf('{ images: target, method: adabn }', inputs).alignment, undefined);
  });

  const base = tuneOf('{ images: target, method: coral, weight: 1 }').fingerprint;
  const changes: { name: string; adapt: string | undefined; inputs?: PlanInputs }[] = [
    { name: 'no adapt', adapt: undefined },
    { name: 'another weight', adapt: '{ images: target, method: coral, weight: 2 }' },
    { name: 'dann instead of coral', adapt: '{ images: target, method: dann, weight: 1 }' },
    {
      name: 'other target images (digest)',
      adapt: '{ images: target, method: coral, weight: 1 }',
      inputs: withTarget('u'.repeat(64)),
    },
    {
      name: 'fewer target images',
      adapt: '{ images: target, method: coral, weight: 1 }',
      inputs: withTarget(undefined, 39),
    },
  ];
  for (const c of changes)
    it(`the aligning stage's fingerprint changes with ${c.name}`, () =>
      assert.notEqual(tuneOf(c.adapt, c.inputs).fingerprint, base));

  it('the head-only stage before it keeps its fingerprint (its stage cache entry stays usable)', () => {
    assert.equal(
      planOf('{ images: target, method: coral, weight: 1 }').stages[0]!.fingerprint,
      planOf(undefined).stages[0]!.fingerprint,
    );
  });
});
