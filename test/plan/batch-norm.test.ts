import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stageBatchNorm } from '../../src/plan/batch-norm.js';
import type { Plan } from '../../src/plan/types.js';

const layer = (className: string) => ({ name: className.toLowerCase(), className, params: 4 });
const dense = { type: 'dense', units: 2, activation: 'softmax', useBias: true } as unknown as Plan['head'][number];

describe('what the plan and the report say a stage does to batch norm: true for every network', () => {
  const cases = [
    {
      name: 'a dense base fine-tuned: it has none',
      plan: { base: { layers: [layer('Dense'), layer('Dense')] }, head: [dense] },
      stage: { trainable: 'base+head', batchNorm: 'frozen' },
      says: 'none in the network',
    },
    {
      name: 'a convolutional base with batch norm, fine-tuned, frozen',
      plan: { base: { layers: [layer('Conv2D'), layer('BatchNormalization')] }, head: [dense] },
      stage: { trainable: 'base+head', batchNorm: 'frozen' },
      says: 'frozen',
    },
    {
      name: 'the same, trained',
      plan: { base: { layers: [layer('Conv2D'), layer('BatchNormalization')] }, head: [dense] },
      stage: { trainable: 'base+head', batchNorm: 'train' },
      says: 'train',
    },
    {
      name: 'batch norm in the head only',
      plan: {
        base: { layers: [layer('Dense')] },
        head: [{ type: 'batchNormalization' } as Plan['head'][number], dense],
      },
      stage: { trainable: 'base+head', batchNorm: 'train' },
      says: 'train',
    },
    {
      name: 'a head-only stage leaves the base as it is',
      plan: { base: { layers: [layer('BatchNormalization')] }, head: [dense] },
      stage: { trainable: 'head', batchNorm: 'frozen' },
      says: '–',
    },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(
        stageBatchNorm(c.plan as unknown as Pick<Plan, 'base' | 'head'>, c.stage as Plan['stages'][number]),
        c.says,
      );
    });
  }
});
