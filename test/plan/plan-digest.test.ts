import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPipelineText } from '../../src/format/load-pipeline.js';
import { compilePlan, type PlanOptions } from '../../src/plan/compile-plan.js';
import {
  differingSections,
  planDifference,
  planDigest,
  planSections,
  sectionsOrUndefined,
  splitSharedSections,
} from '../../src/plan/plan-digest.js';
import type { Plan, PlanInputs } from '../../src/plan/types.js';

const PIPELINE = `name: p
dataset:
  format: idx
  train: { images: a, labels: b }
  test: { images: c, labels: d }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { name: head, epochs: 3 }
    - { name: tune, epochs: 2, unfreeze: ['Conv_1'], optimizer: { name: sgd, learningRate: 0.01 } }
`;

const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 3,
    counts: { train: 90, validation: 10, test: 30 },
    trainPerClass: [30, 30, 30],
  },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [3, 3, 1280],
    layerCount: 3,
    paramCount: 410464,
    layers: [
      {
        name: 'Conv1',
        className: 'Conv2D',
        params: 864,
        outputShape: [16, 16, 32],
        outputElements: 8192,
        inbound: ['input_1'],
      },
      {
        name: 'Conv_1',
        className: 'Conv2D',
        params: 409600,
        outputShape: [3, 3, 1280],
        outputElements: 11520,
        inbound: ['Conv1'],
      },
      {
        name: 'out_relu',
        className: 'ReLU',
        params: 0,
        outputShape: [3, 3, 1280],
        outputElements: 11520,
        inbound: ['Conv_1'],
      },
    ],
  },
};

/** A plan as the planner makes it, from the pipeline above with `change` applied. */
function planOf(
  change: (text: string) => string = (t) => t,
  inputs: PlanInputs = INPUTS,
  options: PlanOptions = {},
): Plan {
  const loaded = loadPipelineText('/p/p.yaml', change(PIPELINE));
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  const compiled = compilePlan(loaded.value.spec, inputs, options);
  assert.ok(compiled.ok, compiled.ok ? '' : compiled.diagnostics.map((d) => d.message).join('; '));
  return compiled.value;
}

describe("planDifference: why a trial's process planned another plan than its sweep", () => {
  const reference = planDigest(planOf());
  const cases: { name: string; actual: () => Plan; says: RegExp[]; saysNot?: RegExp[] }[] = [
    {
      name: "the dataset's files changed",
      actual: () => planOf(undefined, { ...INPUTS, dataset: { ...INPUTS.dataset, digest: 'e'.repeat(64) } }),
      says: [/; data\.digest differ \(the dataset's files changed\)$/],
      saysNot: [/tasks\[/],
    },
    {
      name: "the base model's files changed",
      actual: () => planOf(undefined, { ...INPUTS, base: { ...INPUTS.base, digest: 'c'.repeat(64) } }),
      says: [/base\.digest differ \(the base model's files changed\)$/],
    },
    {
      name: 'the frozen prefix off in this process (TLPIPE_FROZEN_PREFIX=0)',
      actual: () => planOf(undefined, INPUTS, { frozenPrefix: false }),
      says: [
        /stages\[1\]\.frozenPrefix \(only in the sweep's plan\)/,
        /stages\[1\]\.whole \(only in this plan\)/,
        /\(the frozen prefix is on in one process and off in the other \(TLPIPE_FROZEN_PREFIX\)\)$/,
      ],
    },
    {
      name: "a stage's learning rate",
      actual: () => planOf((t) => t.replace('learningRate: 0.01', 'learningRate: 0.02')),
      says: [
        /^plan [0-9a-f]{8} when the sweep planned it, [0-9a-f]{8} here; stages\[1\]\.optimizer, stages\[1\]\.parameterGroups differ$/,
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const said = planDifference(reference, planDigest(c.actual()));
      assert.ok(said, 'a different plan is said to differ');
      for (const pattern of c.says) assert.match(said, pattern);
      for (const pattern of c.saysNot ?? []) assert.doesNotMatch(said, pattern);
    });
  }

  it('the same plan: nothing to say', () => assert.equal(planDifference(reference, planDigest(planOf())), undefined));

  it('a sweep recorded without section digests: the fingerprints, and that the parts cannot be named', () => {
    const said = planDifference(
      { fingerprint: reference.fingerprint },
      planDigest(planOf((t) => t.replace('epochs: 3', 'epochs: 4'))),
    );
    assert.match(
      said ?? '',
      /^plan [0-9a-f]{8} when the sweep planned it, [0-9a-f]{8} here; the sweep's record has no digest of each part \(an older tlpipe made it\)/,
    );
  });

  it('only tasks differ: the tasks are named', () => {
    const sections = { ...reference.sections!, 'tasks[export]': '00000000' };
    assert.match(
      planDifference(reference, { fingerprint: '0'.repeat(64), sections }) ?? '',
      /; tasks\[export\] differ$/,
    );
  });

  it('many sections: the first eight named, the rest counted', () => {
    const sections = Object.fromEntries(Object.keys(reference.sections!).map((k) => [k, '00000000']));
    const said = planDifference(reference, { fingerprint: '0'.repeat(64), sections }) ?? '';
    const own = Object.keys(sections).filter((k) => !k.startsWith('tasks[')).length;
    assert.match(said, new RegExp(` and ${own - 8} more differ`));
  });
});

describe('plan sections', () => {
  it("a field of each top-level key, each stage's fields, each task; no fingerprints", () => {
    const sections = planSections(planOf());
    assert.ok(
      'data.digest' in sections &&
        'base.cut' in sections &&
        'seed' in sections &&
        'stages[1].trainableBaseLayers' in sections &&
        'tasks[train:tune]' in sections,
      Object.keys(sections).join(' '),
    );
    assert.deepEqual(
      Object.keys(sections).filter((k) => /fingerprint|taskId/.test(k)),
      [],
    );
    assert.ok(Object.values(sections).every((d) => /^[0-9a-f]{8}$/.test(d)));
  });

  it("shared once, each trial its own: together they give every trial's sections back", () => {
    const all = [
      planSections(planOf()),
      planSections(planOf((t) => t.replace('learningRate: 0.01', 'learningRate: 0.02'))),
    ];
    const { shared, own } = splitSharedSections(all);
    assert.deepEqual(Object.keys(own[0]!).sort(), [
      'stages[1].optimizer',
      'stages[1].parameterGroups',
      'tasks[train:tune]',
    ]);
    assert.deepEqual(
      all.map((s, i) => ({ ...shared, ...own[i] })),
      all,
    );
    assert.deepEqual(splitSharedSections([]), { shared: {}, own: [] });
  });

  it('differingSections: changed, gone and new sections', () => {
    assert.deepEqual(differingSections({ a: '1', b: '2', c: '3' }, { a: '1', b: '9', d: '4' }), [
      { name: 'b' },
      { name: 'c', only: "in the sweep's plan" },
      { name: 'd', only: 'in this plan' },
    ]);
  });

  const damaged: { name: string; value: unknown; ok: boolean }[] = [
    { name: 'a map of digests', value: { 'data.digest': '0123abcd' }, ok: true },
    { name: 'an empty map', value: {}, ok: true },
    { name: 'a list', value: ['0123abcd'], ok: false },
    { name: 'a digest that is not 8 hex digits', value: { 'data.digest': 'xyz' }, ok: false },
    { name: 'a number', value: 7, ok: false },
    { name: 'null', value: null, ok: false },
  ];
  for (const c of damaged)
    it(`sections read back: ${c.name}`, () => assert.equal(sectionsOrUndefined(c.value) !== undefined, c.ok));
});
