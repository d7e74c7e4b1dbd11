import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePlan, MAX_PRECOMPUTED_FEATURE_BYTES } from '../../src/plan/compile-plan.js';
import { canonicalJson } from '../../src/plan/fingerprint.js';
import type { PlanInputs } from '../../src/plan/types.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';
import type { PipelineSpec } from '../../src/format/types.js';

const PIPELINE = `name: p
dataset:
  format: idx
  train: { images: a, labels: b }
  test: { images: c, labels: d }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 16, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { name: head, epochs: 3 }
    - { name: more, epochs: 2, optimizer: { name: sgd, learningRate: 0.01 } }
`;

const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 4,
    counts: { train: 90, validation: 10, test: 40 },
    trainPerClass: [30, 30, 20, 10],
  },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [3, 3, 1280],
    layerCount: 7,
    paramCount: 2257984,
    layers: [
      { name: 'Conv1', className: 'Conv2D', params: 864 },
      { name: 'bn_Conv1', className: 'BatchNormalization', params: 128 },
      { name: 'block_16_expand', className: 'Conv2D', params: 153600 },
      { name: 'block_16_expand_BN', className: 'BatchNormalization', params: 3840 },
      { name: 'block_16_project', className: 'Conv2D', params: 307200 },
      { name: 'Conv_1', className: 'Conv2D', params: 409600 },
      { name: 'out_relu', className: 'ReLU', params: 0 },
    ],
  },
};

function spec(text = PIPELINE): PipelineSpec {
  const loaded = loadPipelineText('/p/p.yaml', text);
  assert.ok(loaded.ok);
  return loaded.value.spec;
}

function plan(s = spec(), inputs = INPUTS) {
  const result = compilePlan(s, inputs);
  assert.ok(result.ok, result.ok ? '' : result.diagnostics.map((d) => d.message).join('; '));
  return result.value;
}

describe('compilePlan', () => {
  it('resolves `units: classes` from the class count found in the data', () => {
    assert.deepEqual(
      plan().head.map((l) => (l.type === 'dense' ? l.units : l.type)),
      ['globalAveragePooling2d', 16, 4],
    );
  });

  it('numbers epochs continuously across stages', () => {
    assert.deepEqual(
      plan().stages.map((s) => [s.name, s.firstEpoch, s.lastEpoch]),
      [
        ['head', 1, 3],
        ['more', 4, 5],
      ],
    );
  });

  it('orders tasks data → base → head → features → stages → evaluate → export', () => {
    assert.deepEqual(
      plan().tasks.map((t) => t.id),
      ['data', 'base', 'head', 'features:head', 'train:head', 'train:more', 'evaluate', 'export'],
    );
  });

  it('is pure: the same input gives byte-identical JSON', () => {
    assert.equal(canonicalJson(plan()), canonicalJson(plan()));
  });

  it('folds pooling into feature extraction and sizes the stored features', () => {
    const p = plan();
    assert.deepEqual(p.features, { mode: 'precompute', headLayersApplied: 1, shape: [1280], bytes: 1280 * 4 * 140 });
  });

  it('recomputes features per batch when they would not fit in memory', () => {
    const big = { ...INPUTS, dataset: { ...INPUTS.dataset, counts: { train: 300_000, validation: 0, test: 0 } } };
    const p = plan(spec(PIPELINE.replace('globalAveragePooling2d', 'flatten')), {
      ...big,
      base: { ...big.base, cutOutputShape: [7, 7, 1280] },
    });
    assert.equal(p.features.mode, 'perBatch');
    assert.ok(7 * 7 * 1280 * 4 * 300_000 > MAX_PRECOMPUTED_FEATURE_BYTES);
  });

  it('computes balanced class weights on request, n / (classes × n_class)', () => {
    assert.equal(plan().stages[0]!.classWeights, null);
    assert.deepEqual(
      plan(spec(PIPELINE.replace('stages:', 'classWeights: balanced\n  stages:'))).stages[0]!.classWeights,
      [0.75, 0.75, 1.125, 2.25],
    );
  });

  it('runs the base per batch when augmentation is on, and says why', () => {
    const p = plan(
      spec(PIPELINE.replace('format: idx', 'format: idx\n  augment: { flipHorizontal: true, rotate: 10 }')),
    );
    assert.equal(p.features.mode, 'perBatch');
    assert.match(p.features.reason ?? '', /augmentation/);
    assert.deepEqual(p.augment, {
      flipHorizontal: true,
      rotate: 10,
      zoom: 0,
      translate: 0,
      brightness: 0,
      contrast: 0,
    });
  });

  it('normalises with the zoo default unless told otherwise', () => {
    assert.deepEqual(
      [plan().normalize.mean, plan().normalize.std],
      [
        [0, 0, 0],
        [1, 1, 1],
      ],
    );
    const symmetric = plan(spec(PIPELINE + 'base: { normalize: symmetric }\n')).normalize;
    assert.deepEqual(
      [symmetric.mean, symmetric.std],
      [
        [0.5, 0.5, 0.5],
        [0.5, 0.5, 0.5],
      ],
    );
    const imagenet = plan(
      spec(PIPELINE + 'base: { normalize: { mean: [0.485, 0.456, 0.406], std: 0.25 } }\n'),
    ).normalize;
    assert.deepEqual(
      [imagenet.mean, imagenet.std],
      [
        [0.485, 0.456, 0.406],
        [0.25, 0.25, 0.25],
      ],
    );
  });

  it('picks the loss from the last activation', () => {
    assert.equal(plan().loss, 'categoricalCrossentropy');
    assert.equal(
      plan(spec(PIPELINE.replace('activation: softmax', 'activation: linear'))).loss,
      'softmaxCrossEntropyFromLogits',
    );
  });

  it('uses class names when given, label numbers otherwise', () => {
    assert.deepEqual(plan().classes.names, ['0', '1', '2', '3']);
    assert.deepEqual(
      plan(spec(PIPELINE.replace('format: idx', 'format: idx\n  classNames: [a, b, c, d]'))).classes.names,
      ['a', 'b', 'c', 'd'],
    );
  });
});

describe('fingerprints', () => {
  const base = plan();
  const byId = (p: typeof base) => Object.fromEntries(p.tasks.map((t) => [t.id, t.fingerprint]));
  const cases: { name: string; change: () => typeof base; changed: string[] }[] = [
    {
      name: "a later stage's learning rate changes only that stage and what follows",
      change: () => plan(spec(PIPELINE.replace('learningRate: 0.01', 'learningRate: 0.02'))),
      changed: ['train:more', 'evaluate', 'export'],
    },
    {
      name: 'the dataset digest changes data and everything trained on it',
      change: () => plan(spec(), { ...INPUTS, dataset: { ...INPUTS.dataset, digest: 'e'.repeat(64) } }),
      changed: ['data', 'features:head', 'train:head', 'train:more', 'evaluate', 'export'],
    },
    {
      name: 'the base digest changes every task that depends on the base',
      change: () => plan(spec(), { ...INPUTS, base: { ...INPUTS.base, digest: 'c'.repeat(64) } }),
      changed: ['base', 'head', 'features:head', 'train:head', 'train:more', 'evaluate', 'export'],
    },
    {
      name: 'the seed changes everything random',
      change: () => plan(spec(PIPELINE + 'seed: 7\n')),
      changed: ['data', 'head', 'features:head', 'train:head', 'train:more', 'evaluate', 'export'],
    },
    {
      name: 'a head layer changes the head and what trains on it, not the features',
      change: () => plan(spec(PIPELINE.replace('units: 16', 'units: 32'))),
      changed: ['head', 'train:head', 'train:more', 'evaluate', 'export'],
    },
    {
      name: 'test-time augmentation changes the evaluation alone',
      change: () => plan(spec(PIPELINE + 'evaluate: { tta: [flip] }\n')),
      changed: ['evaluate'],
    },
    {
      name: 'comments and key order change nothing',
      change: () => plan(spec('# a comment\n' + PIPELINE.replace('name: p\n', '') + 'name: p\n')),
      changed: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const before = byId(base);
      const after = byId(c.change());
      const changed = Object.keys(before).filter((id) => before[id] !== after[id]);
      assert.deepEqual(changed, c.changed);
    });
  }
});

describe('what learns in each stage', () => {
  const twoStage = PIPELINE.replace(
    '    - { name: more, epochs: 2, optimizer: { name: sgd, learningRate: 0.01 } }',
    "    - { name: more, epochs: 2, unfreeze: ['block_16_*', 'Conv_1*'], optimizer: { name: sgd, learningRate: 0.01 } }",
  );

  it('the head alone while the base is frozen, then the unfrozen layers too', () => {
    const p = plan(spec(twoStage));
    assert.deepEqual(
      p.stages.map((s) => [s.trainable, s.trainableBaseLayers]),
      [
        ['head', []],
        ['base+head', ['block_16_expand', 'block_16_expand_BN', 'block_16_project', 'Conv_1']],
      ],
    );
    const head = 1280 * 16 + 16 + 16 * 4 + 4;
    assert.deepEqual(
      p.stages.map((s) => s.trainableParams),
      [head, head + 153600 + 3840 + 307200 + 409600],
    );
    assert.equal(p.stages[1]!.totalParams, head + 2257984);
  });

  it('freeze: none trains everything from the first stage', () => {
    assert.equal(plan(spec(PIPELINE + 'freeze: none\n')).stages[0]!.trainableBaseLayers.length, 7);
  });

  it('a rule that matches nothing is an error at the rule, with the nearest layer names', () => {
    const result = compilePlan(spec(twoStage.replace("'Conv_1*'", "'Conv_2*'")), INPUTS);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.diagnostics[0]!.path, ['train', 'stages', 1, 'unfreeze', 1]);
    assert.match(result.diagnostics[0]!.message, /`Conv_2\*` matches no base layer/);
    assert.match(result.diagnostics[0]!.hint ?? '', /nearest layer names: Conv_1/);
  });

  it('one parameter group per learning rate: the head, then the base at its own rate and per-rule multipliers', () => {
    const cases: { name: string; optimizer: string; groups: [string, number, boolean, string[]][] }[] = [
      {
        name: 'one rate for all still keeps head and base apart',
        optimizer: '{ learningRate: 0.01 }',
        groups: [
          ['head', 0.01, true, []],
          ['base', 0.01, false, ['block_16_expand', 'block_16_expand_BN', 'block_16_project', 'Conv_1']],
        ],
      },
      {
        name: 'head and base rates',
        optimizer: '{ learningRate: { head: 0.001, base: 0.00001 } }',
        groups: [
          ['head', 0.001, true, []],
          ['base', 0.00001, false, ['block_16_expand', 'block_16_expand_BN', 'block_16_project', 'Conv_1']],
        ],
      },
      {
        name: 'a multiplier rule splits the base; the first matching rule wins',
        optimizer:
          "{ learningRate: { head: 0.01, base: 0.001 }, multipliers: [{ layers: 'block_16_*', multiplier: 0.1 }, { layers: '[0, end)', multiplier: 2 }] }",
        groups: [
          ['head', 0.01, true, []],
          ['base×0.1', 0.0001, false, ['block_16_expand', 'block_16_expand_BN', 'block_16_project']],
          ['base×2', 0.002, false, ['Conv_1']],
        ],
      },
    ];
    for (const c of cases) {
      const p = plan(
        spec(twoStage.replace('optimizer: { name: sgd, learningRate: 0.01 }', `optimizer: ${c.optimizer}`)),
      );
      assert.deepEqual(
        p.stages[0]!.parameterGroups.map((g) => g.name),
        ['head'],
        c.name,
      );
      assert.deepEqual(
        p.stages[1]!.parameterGroups.map((g) => [g.name, g.learningRate, g.head, g.baseLayers]),
        c.groups,
        c.name,
      );
    }
  });

  it('warns when a stage splits a residual block', () => {
    const result = compilePlan(spec(twoStage.replace("['block_16_*', 'Conv_1*']", "['block_16_project']")), INPUTS);
    assert.ok(result.ok);
    assert.match(
      result.warnings.map((w) => w.message).join('\n'),
      /stage `more` trains part of block_16 and freezes the rest/,
    );
  });
});

describe('compilePlan errors', () => {
  it('a head whose output cannot match the classes found in the data', () => {
    const result = compilePlan(spec(PIPELINE.replace('units: classes', 'units: 3')), INPUTS);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.diagnostics[0]!.path, ['head', 2, 'dense', 'units']);
    assert.match(result.diagnostics[0]!.message, /outputs 3 scores, but the dataset has 4 classes/);
  });

  it('class names that do not match the labels', () => {
    const result = compilePlan(spec(PIPELINE.replace('format: idx', 'format: idx\n  classNames: [a, b]')), INPUTS);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.diagnostics[0]!.path, ['dataset', 'classNames']);
  });
});

describe('tasks say what runs', () => {
  const stages = (lines: string[]) =>
    PIPELINE.replace(/ {2}stages:[\s\S]*/, `  stages:\n${lines.map((l) => `    - ${l}`).join('\n')}\n`);
  const cases: {
    name: string;
    stages: string[];
    counts?: PlanInputs['dataset']['counts'];
    tasks: string[];
    evaluateOn?: 'features' | 'images';
    weights: ('head' | 'full')[];
  }[] = [
    {
      name: 'head stages share one features task; evaluation uses it',
      stages: ['{ name: a, epochs: 1 }', '{ name: b, epochs: 1 }'],
      tasks: ['data', 'base', 'head', 'features:a', 'train:a', 'train:b', 'evaluate', 'export'],
      evaluateOn: 'features',
      weights: ['head', 'head'],
    },
    {
      name: 'a fine-tuning stage runs images; the head stage after it gets features of the base it left',
      stages: [
        '{ name: a, epochs: 1 }',
        "{ name: tune, epochs: 1, unfreeze: ['Conv_1'] }",
        "{ name: c, epochs: 1, freeze: ['Conv_1'] }",
      ],
      tasks: [
        'data',
        'base',
        'head',
        'features:a',
        'train:a',
        'train:tune',
        'features:c',
        'train:c',
        'evaluate',
        'export',
      ],
      evaluateOn: 'features',
      weights: ['head', 'full', 'full'],
    },
    {
      name: 'ending with fine-tuning evaluates the whole model on images',
      stages: ['{ name: a, epochs: 1 }', "{ name: tune, epochs: 1, unfreeze: ['Conv_1'] }"],
      tasks: ['data', 'base', 'head', 'features:a', 'train:a', 'train:tune', 'evaluate', 'export'],
      evaluateOn: 'images',
      weights: ['head', 'full'],
    },
    {
      name: 'every layer trains from the start: no features task at all',
      stages: ['{ name: all, epochs: 1, unfreeze: [all] }'],
      tasks: ['data', 'base', 'head', 'train:all', 'evaluate', 'export'],
      evaluateOn: 'images',
      weights: ['full'],
    },
    {
      name: 'no test split, no evaluate task',
      stages: ['{ name: a, epochs: 1 }'],
      counts: { train: 90, validation: 10, test: 0 },
      tasks: ['data', 'base', 'head', 'features:a', 'train:a', 'export'],
      weights: ['head'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = plan(spec(stages(c.stages)), {
        ...INPUTS,
        dataset: { ...INPUTS.dataset, ...(c.counts ? { counts: c.counts } : {}) },
      });
      assert.deepEqual(
        p.tasks.map((t) => t.id),
        c.tasks,
      );
      const evaluate = p.tasks.find((t) => t.kind === 'evaluate');
      assert.equal(evaluate?.kind === 'evaluate' ? evaluate.on : undefined, c.evaluateOn);
      assert.deepEqual(
        p.stages.map((s) => s.weights),
        c.weights,
      );
      // Every dependency is a task that comes earlier: the list is the order they run in.
      p.tasks.forEach((t, i) =>
        t.dependsOn.forEach((d) => assert.ok(p.tasks.findIndex((u) => u.id === d) < i, `${t.id} after ${d}`)),
      );
    });
  }

  it('the features after a fine-tuning stage depend on that stage, so they are named by what it left', () => {
    const p = plan(
      spec(
        stages([
          '{ name: a, epochs: 1 }',
          "{ name: tune, epochs: 1, unfreeze: ['Conv_1'] }",
          "{ name: c, epochs: 1, freeze: ['Conv_1'] }",
        ]),
      ),
    );
    const features = p.tasks.filter((t) => t.kind === 'features');
    assert.deepEqual(
      features.map((t) => [t.id, t.dependsOn, t.kind === 'features' && t.pristine]),
      [
        ['features:a', ['data', 'base'], true],
        ['features:c', ['data', 'train:tune'], false],
      ],
    );
  });
});

describe('the wasm heap, checked by the planner', () => {
  const fineTune = PIPELINE.replace(
    / {2}stages:[\s\S]*/,
    "  stages:\n    - { name: tune, epochs: 1, batchSize: 4096, unfreeze: ['Conv_1'] }\n",
  );
  const huge = {
    ...INPUTS,
    backend: 'wasm' as const,
    base: { ...INPUTS.base, layers: INPUTS.base.layers.map((l) => ({ ...l, outputElements: 200_000 })) },
  };
  it("a batch that cannot fit is an error at the stage's batch size, naming the largest that fits", () => {
    const result = compilePlan(spec(fineTune), huge);
    assert.equal(result.ok, false);
    if (result.ok) return;
    const [d] = result.diagnostics;
    assert.deepEqual(
      [d!.path, d!.locateAt],
      [
        ['train', 'stages', 0, 'batchSize'],
        [
          ['train', 'batchSize'],
          ['train', 'stages', 0],
        ],
      ],
    );
    assert.match(
      d!.message,
      /stage `tune` trains on batches of 4096 at 96×96, which need about [\d.]+ GiB; the wasm backend's heap holds 4 GiB/,
    );
    assert.match(d!.hint ?? '', /the largest batch that fits is \d+/);
  });
  it('other backends have no such limit', () => {
    assert.equal(compilePlan(spec(fineTune), { ...huge, backend: 'cpu' }).ok, true);
  });
});

describe('layer selectors: one resolver for freeze rules, unfreeze and learning-rate multipliers', () => {
  const withStage = (stage: string) => PIPELINE.replace(/ {2}stages:[\s\S]*/, `  stages:\n    - ${stage}\n`);
  const cases: {
    name: string;
    stage: string;
    path: (string | number)[];
    message: RegExp;
    hint?: RegExp;
    severity: 'error' | 'warning';
  }[] = [
    {
      name: 'a misspelt multiplier glob',
      stage:
        "{ name: t, epochs: 1, unfreeze: ['block_16_*'], optimizer: { learningRate: 0.01, multipliers: [{ layers: 'blok_16_*', multiplier: 0.1 }] } }",
      path: ['train', 'stages', 0, 'optimizer', 'multipliers', 0, 'layers'],
      message: /`blok_16_\*` matches no base layer/,
      hint: /nearest layer names: block_16_/,
      severity: 'error',
    },
    {
      name: 'a multiplier regular expression that does not compile',
      stage:
        "{ name: t, epochs: 1, unfreeze: ['block_16_*'], optimizer: { multipliers: [{ layers: '/[/', multiplier: 0.1 }] } }",
      path: ['train', 'stages', 0, 'optimizer', 'multipliers', 0, 'layers'],
      message: /`\/\[\/`: not a valid regular expression/,
      severity: 'error',
    },
    {
      name: 'the same misspelling under unfreeze',
      stage: "{ name: t, epochs: 1, unfreeze: ['blok_16_*'] }",
      path: ['train', 'stages', 0, 'unfreeze', 0],
      message: /`blok_16_\*` matches no base layer/,
      hint: /nearest layer names: block_16_/,
      severity: 'error',
    },
    {
      name: 'a multiplier for layers frozen in its stage',
      stage:
        "{ name: t, epochs: 1, unfreeze: ['Conv_1'], optimizer: { multipliers: [{ layers: 'block_16_*', multiplier: 0.1 }] } }",
      path: ['train', 'stages', 0, 'optimizer', 'multipliers', 0, 'layers'],
      message: /applies to no layer that learns in stage `t`/,
      severity: 'warning',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = compilePlan(spec(withStage(c.stage)), INPUTS);
      const found = result.ok ? result.warnings : result.diagnostics;
      const d = found.find((x) => x.severity === c.severity);
      assert.ok(d, JSON.stringify(found));
      assert.deepEqual(d.path, c.path);
      assert.match(d.message, c.message);
      if (c.hint) assert.match(d.hint ?? '', c.hint);
      assert.equal(result.ok, c.severity === 'warning');
    });
  }
});
