import assert from 'node:assert/strict';
import { loadPipelineText } from '../../../src/format/load-pipeline.js';
import { compilePlan } from '../../../src/plan/compile-plan.js';
import type { Plan, PlanInputs } from '../../../src/plan/types.js';

/** A small base (two convolutions and an activation) and a dataset with a test split: facts enough to plan without tfjs. */
const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 2,
    counts: { train: 8, validation: 2, test: 2 },
    trainPerClass: [4, 4],
  },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [2, 2, 8],
    layerCount: 3,
    paramCount: 20,
    layers: [
      { name: 'conv', className: 'Conv2D', params: 10, outputShape: [2, 2, 8], inbound: ['input'] },
      { name: 'conv2', className: 'Conv2D', params: 10, outputShape: [2, 2, 8], inbound: ['conv'] },
      { name: 'top', className: 'ReLU', params: 0, outputShape: [2, 2, 8], inbound: ['conv2'] },
    ],
  },
};

/** The plan of a pipeline with these stages (YAML flow mappings) and, optionally, more top-level keys. */
export function planOf(stages: string[], extra = ''): Plan {
  const loaded = loadPipelineText(
    '/p/p.yaml',
    `dataset: { format: idx, train: { images: a, labels: b }, test: { images: c, labels: d } }
base: { model: ./m.json, cut: top }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
${extra}
train:
  stages:
${stages.map((s) => `    - ${s}`).join('\n')}
`,
  );
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  const plan = compilePlan(loaded.value.spec, INPUTS);
  assert.ok(plan.ok, plan.ok ? '' : plan.diagnostics.map((d) => d.message).join('; '));
  return plan.value;
}
