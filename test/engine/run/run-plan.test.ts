import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tasksFrom } from '../../../src/engine/run/run-plan.js';
import { loadPipelineText } from '../../../src/format/load-pipeline.js';
import { compilePlan } from '../../../src/plan/compile-plan.js';
import type { PlanInputs } from '../../../src/plan/types.js';

const INPUTS: PlanInputs = {
  dataset: { digest: 'd'.repeat(64), numClasses: 2, counts: { train: 8, validation: 2, test: 2 }, trainPerClass: [4, 4] },
  base: { digest: 'b'.repeat(64), cutOutputShape: [2, 2, 8], layerCount: 2, paramCount: 10, layers: [{ name: 'conv', className: 'Conv2D', params: 10 }, { name: 'top', className: 'ReLU', params: 0 }] },
};

function planOf(stages: string[]) {
  const loaded = loadPipelineText('/p/p.yaml', `dataset: { format: idx, train: { images: a, labels: b }, test: { images: c, labels: d } }
base: { model: ./m.json, cut: top }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
${stages.map((s) => `    - ${s}`).join('\n')}
`);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  const plan = compilePlan(loaded.value.spec, INPUTS);
  assert.ok(plan.ok, plan.ok ? '' : plan.diagnostics.map((d) => d.message).join('; '));
  return plan.value;
}

describe('where a resumed or cache-restored run starts: the tasks that still run', () => {
  const threeStages = ['{ name: a, epochs: 1 }', "{ name: tune, epochs: 1, unfreeze: ['conv'] }", "{ name: c, epochs: 1, freeze: ['conv'] }"];
  const cases: { name: string; stages: string[]; from: number; runs: string[] }[] = [
    { name: 'from the first stage: everything after setup', stages: threeStages, from: 0, runs: ['features:a', 'train:a', 'train:tune', 'features:c', 'train:c', 'evaluate', 'export'] },
    { name: 'from the fine-tuning stage: no features of the base before it', stages: threeStages, from: 1, runs: ['train:tune', 'features:c', 'train:c', 'evaluate', 'export'] },
    { name: 'from the head stage after it: its features are made again', stages: threeStages, from: 2, runs: ['features:c', 'train:c', 'evaluate', 'export'] },
    { name: 'every stage restored: the features evaluation uses, then evaluate and export', stages: threeStages, from: 3, runs: ['features:c', 'evaluate', 'export'] },
    { name: 'two head stages on one features task: the second alone trains again', stages: ['{ name: a, epochs: 1 }', '{ name: b, epochs: 1 }'], from: 1, runs: ['features:a', 'train:b', 'evaluate', 'export'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planOf(c.stages);
      const runs = tasksFrom(plan, c.from);
      assert.deepEqual(plan.tasks.filter((_, i) => runs.has(i)).map((t) => t.id), c.runs);
    });
  }
});
