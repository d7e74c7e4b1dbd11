import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tasksFrom } from '../../../src/engine/run/run-plan.js';
import { planOf } from './plan-fixture.js';

describe('where a resumed or cache-restored run starts: the tasks that still run', () => {
  const threeStages = [
    '{ name: a, epochs: 1 }',
    "{ name: tune, epochs: 1, unfreeze: ['conv'] }",
    "{ name: c, epochs: 1, freeze: ['conv'] }",
  ];
  const cases: { name: string; stages: string[]; from: number; runs: string[] }[] = [
    {
      name: 'from the first stage: everything after setup',
      stages: threeStages,
      from: 0,
      runs: ['features:a', 'train:a', 'train:tune', 'features:c', 'train:c', 'evaluate', 'export'],
    },
    {
      name: 'from the fine-tuning stage: no features of the base before it',
      stages: threeStages,
      from: 1,
      runs: ['train:tune', 'features:c', 'train:c', 'evaluate', 'export'],
    },
    {
      name: 'from the head stage after it: its features are made again',
      stages: threeStages,
      from: 2,
      runs: ['features:c', 'train:c', 'evaluate', 'export'],
    },
    {
      name: 'every stage restored: the features evaluation uses, then evaluate and export',
      stages: threeStages,
      from: 3,
      runs: ['features:c', 'evaluate', 'export'],
    },
    {
      name: 'two head stages on one features task: the second alone trains again',
      stages: ['{ name: a, epochs: 1 }', '{ name: b, epochs: 1 }'],
      from: 1,
      runs: ['features:a', 'train:b', 'evaluate', 'export'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planOf(c.stages);
      const runs = tasksFrom(plan, c.from);
      assert.deepEqual(
        plan.tasks.filter((_, i) => runs.has(i)).map((t) => t.id),
        c.runs,
      );
    });
  }
});
