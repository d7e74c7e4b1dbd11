import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePlan } from '../../src/plan/compile-plan.js';
import type { PlanInputs } from '../../src/plan/types.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';
import { dependencyProblems } from '../../src/engine/run/task-dependencies.js';

const PIPELINE = (evaluate: string) => `name: p
dataset:
  format: idx
  train: { images: a, labels: b }
  test: { images: c, labels: d }
  validation: 0.1
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { name: head, epochs: 3 }
${evaluate}`;

const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 2,
    counts: { train: 90, validation: 10, test: 40 },
    trainPerClass: [45, 45],
  },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [3, 3, 1280],
    layerCount: 2,
    paramCount: 992,
    layers: [
      { name: 'Conv1', className: 'Conv2D', params: 864 },
      { name: 'bn_Conv1', className: 'BatchNormalization', params: 128 },
    ],
  },
};

function plan(evaluate: string) {
  const loaded = loadPipelineText('/p/p.yaml', PIPELINE(evaluate));
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  const result = compilePlan(loaded.value.spec, INPUTS);
  assert.ok(result.ok, result.ok ? '' : result.diagnostics.map((d) => d.message).join('; '));
  return result.value;
}
const task = (p: ReturnType<typeof plan>, id: string) => p.tasks.find((t) => t.id === id);

describe('the decision task: fitted after the last stage, read by the evaluation and the export', () => {
  it('no fitted key: no decision task, and the export depends on the training alone', () => {
    const p = plan('');
    assert.equal(task(p, 'decision'), undefined);
    assert.deepEqual(task(p, 'export')!.dependsOn, ['train:head']);
  });

  it('calibrate: on the features the last head-only stage trained on, before the evaluation and the export that read it', () => {
    const p = plan('evaluate: { calibrate: temperature }\n');
    const decision = task(p, 'decision')!;
    assert.deepEqual(decision.config, { calibrate: 'temperature', classNames: ['0', '1'] });
    assert.deepEqual(decision.dependsOn, ['train:head', 'data', 'features:head']);
    assert.ok(task(p, 'evaluate')!.dependsOn.includes('decision'));
    assert.ok(task(p, 'export')!.dependsOn.includes('decision'));
    const order = p.tasks.map((t) => t.id);
    assert.ok(order.indexOf('decision') < order.indexOf('evaluate'));
    assert.deepEqual(dependencyProblems(p), []);
  });

  it("the threshold's positive class defaults to the second class, by name", () => {
    const p = plan('evaluate: { threshold: { metric: f1 } }\n');
    assert.deepEqual(task(p, 'decision')!.config['threshold'], { metric: 'f1', positive: '1' });
  });

  const fingerprints = (evaluate: string) => Object.fromEntries(plan(evaluate).tasks.map((t) => [t.id, t.fingerprint]));
  const cases: { name: string; from: string; to: string; changed: string[] }[] = [
    {
      name: 'abstain changes what is fitted and what reads it, not the training',
      from: 'evaluate: { calibrate: temperature }\n',
      to: 'evaluate: { calibrate: temperature, abstain: 0.6 }\n',
      changed: ['decision', 'evaluate', 'export'],
    },
    {
      name: "the threshold's recall too",
      from: 'evaluate: { threshold: { metric: precisionAtRecall, recall: 0.9 } }\n',
      to: 'evaluate: { threshold: { metric: precisionAtRecall, recall: 0.8 } }\n',
      changed: ['decision', 'evaluate', 'export'],
    },
  ];
  for (const c of cases)
    it(`fingerprints: ${c.name}`, () => {
      const before = fingerprints(c.from);
      const after = fingerprints(c.to);
      assert.deepEqual(
        Object.keys(after).filter((id) => before[id] !== after[id]),
        c.changed,
      );
    });
});
