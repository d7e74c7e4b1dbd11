import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePlan } from '../../src/plan/compile-plan.js';
import type { PlanInputs } from '../../src/plan/types.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';
import { SPEC_RULES } from '../../src/format/rules.js';
import { NAMED_STRATEGIES, type NamedStrategy } from '../../src/format/strategy.js';
import { ZOO } from '../../src/format/zoo-catalog.js';
import { chooseStrategy, decideStrategy, withChosenKeys } from '../../src/plan/strategy.js';
import type { StrategyProbe } from '../../src/plan/types.js';

const HEAD = `dataset: { format: mnist }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
`;

const LAYERS = [
  'Conv1',
  'block_6_expand_relu',
  'block_13_expand',
  'block_13_expand_relu',
  'block_16_project',
  'Conv_1',
  'out_relu',
];
const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 10,
    counts: { train: 900, validation: 100, test: 100 },
    trainPerClass: Array(10).fill(90),
  },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [2, 2, 1280],
    layerCount: LAYERS.length,
    paramCount: 700,
    layers: LAYERS.map((name) => ({ name, className: 'Conv2D', params: 100 })),
  },
};

function planOf(text: string) {
  const loaded = loadPipelineText('/p/p.yaml', text);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  const plan = compilePlan(loaded.value.spec, INPUTS);
  assert.ok(plan.ok, plan.ok ? '' : plan.diagnostics.map((d) => d.message).join('; '));
  return { spec: loaded.value.spec, plan: plan.value };
}

describe('named strategies compile to explicit cuts, freeze sets and stages', () => {
  const cases: {
    strategy: NamedStrategy;
    cut: string;
    stages: [name: string, trainableBaseLayers: number, rates: number[]][];
  }[] = [
    { strategy: 'head-only', cut: 'out_relu', stages: [['head', 0, [0.001]]] },
    {
      strategy: 'head-then-all',
      cut: 'out_relu',
      stages: [
        ['head', 0, [0.001]],
        ['finetune', LAYERS.length, [0.00001, 0.00001]],
      ],
    },
    { strategy: 'low-level', cut: 'block_13_expand_relu', stages: [['head', 0, [0.001]]] },
    { strategy: 'all', cut: 'out_relu', stages: [['all', LAYERS.length, [0.001, 0.0001]]] },
  ];
  for (const c of cases) {
    it(c.strategy, () => {
      const { spec, plan } = planOf(`${HEAD}strategy: ${c.strategy}\n`);
      assert.equal(spec.base.cut, c.cut);
      assert.deepEqual(
        plan.stages.map((s) => [s.name, s.trainableBaseLayers.length, s.parameterGroups.map((g) => g.learningRate)]),
        c.stages,
      );
      assert.deepEqual(plan.strategy?.chosen, c.strategy);
      assert.deepEqual(Object.keys(plan.strategy!.filled).sort(), ['base', 'freeze', 'train']);
    });
  }

  it('keys written in the file win over what the strategy fills', () => {
    const { spec, plan } = planOf(
      `${HEAD}strategy: head-then-all\nbase: { cut: Conv_1 }\ntrain:\n  stages:\n    - { name: mine, epochs: 2 }\n`,
    );
    assert.equal(spec.base.cut, 'Conv_1');
    assert.deepEqual(
      plan.stages.map((s) => s.name),
      ['mine'],
    );
    assert.deepEqual(plan.strategy!.filled, { freeze: 'all' });
  });

  it('a head that needs its own cut keeps it under every named strategy (unet reads the encoder at block_16_project)', () => {
    for (const strategy of NAMED_STRATEGIES) {
      const loaded = loadPipelineText(
        '/p/p.yaml',
        `task: segmentation\ndataset: { format: segmentationFolder, images: i, masks: m, classes: [a, b] }\nhead: unet\nstrategy: ${strategy}\n`,
      );
      assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
      assert.equal(loaded.value.spec.base.cut, 'block_16_project', strategy);
    }
  });

  it('auto starts as head-only, with the keys of every named strategy resolved for the planner to pick from', () => {
    const loaded = loadPipelineText('/p/p.yaml', `${HEAD}strategy: auto\n`);
    assert.ok(loaded.ok);
    const spec = loaded.value.spec;
    assert.deepEqual([spec.strategy?.requested, spec.strategy?.chosen], ['auto', 'head-only']);
    const chosen = chooseStrategy(spec, loaded.value.strategyChoices!, PROBES['low-level']).spec;
    assert.equal(chosen.base.cut, 'block_6_expand_relu');
    assert.deepEqual(chosen.strategy?.chosen, 'low-level');
  });
});

/** Probes of mobilenet_v2's candidate cuts that lead to each strategy (see the decision's table below). */
const PROBES: Record<NamedStrategy, StrategyProbe> = {
  'head-only': probe(100, 0.9, 0.85),
  'head-then-all': probe(1000, 0.9, 0.91),
  'low-level': probe(100, 0.6, 0.85),
  all: probe(1000, 0.6, 0.85),
};
function probe(perClass: number, top: number, lower: number): StrategyProbe {
  return {
    perClass,
    probes: [
      { cut: 'out_relu', accuracy: top },
      { cut: 'block_13_expand_relu', accuracy: lower - 0.1 },
      { cut: 'block_6_expand_relu', accuracy: lower },
    ],
    sample: { fit: 24, score: 8 },
  };
}

/** Files that write some of the keys a strategy fills, or change what the filled keys resolve with (without `strategy:`). */
const AUTO_FILES: { name: string; text: string }[] = [
  { name: 'nothing written', text: HEAD },
  { name: 'a written cut', text: `${HEAD}base: { cut: block_16_project }\n` },
  {
    name: 'written stages',
    text: `${HEAD}train:\n  batchSize: 8\n  stages:\n    - { name: mine, epochs: 2, optimizer: { name: sgd, learningRate: 0.1, momentum: 0.9 } }\n`,
  },
  {
    name: 'a written freeze, a batch size and class weights',
    text: `${HEAD}freeze: ['Conv1']\ntrain: { batchSize: 16, classWeights: balanced }\n`,
  },
  { name: 'no validation split', text: HEAD.replace('{ format: mnist }', '{ format: mnist, validation: 0 }') },
];

describe("auto's choice fills what resolving the file with that strategy would", () => {
  for (const file of AUTO_FILES) {
    for (const strategy of NAMED_STRATEGIES) {
      it(`${file.name}: ${strategy}`, () => {
        const auto = loadPipelineText('/p/p.yaml', `${file.text}strategy: auto\n`);
        assert.ok(auto.ok, auto.ok ? '' : auto.diagnostics.map((d) => d.message).join('; '));
        const { measurement, spec: filled } = chooseStrategy(
          auto.value.spec,
          auto.value.strategyChoices!,
          PROBES[strategy],
        );
        assert.equal(measurement.chosen, strategy);
        // The same file naming the strategy and, unless it writes one, the probe's cut: what auto used to resolve again.
        const cut = auto.value.written.base?.cut === undefined ? measurement.cut : undefined;
        const named = loadPipelineText(
          '/p/p.yaml',
          `${file.text}strategy: ${strategy}\n${cut ? `base: { cut: ${cut} }\n` : ''}`,
        );
        assert.ok(named.ok, named.ok ? '' : named.diagnostics.map((d) => d.message).join('; '));
        const { strategy: filledStrategy, ...filledRest } = filled;
        const { strategy: namedStrategy, ...namedRest } = named.value.spec;
        // As resolved.json records it: the same keys in the same order.
        assert.equal(JSON.stringify(filledRest), JSON.stringify(namedRest));
        assert.deepEqual(filledStrategy, { ...auto.value.spec.strategy, chosen: strategy });
        assert.equal(namedStrategy?.chosen, strategy);
      });
    }
  }
});

describe("auto's choice needs no second check: every strategy's keys pass the rules the file passed", () => {
  for (const file of AUTO_FILES) {
    it(file.name, () => {
      const auto = loadPipelineText('/p/p.yaml', `${file.text}strategy: auto\n`);
      assert.ok(auto.ok, auto.ok ? '' : auto.diagnostics.map((d) => d.message).join('; '));
      for (const strategy of NAMED_STRATEGIES) {
        for (const cut of ZOO['mobilenet_v2']!.probeCuts) {
          const spec = withChosenKeys(auto.value.spec, { strategy, cut, ...auto.value.strategyChoices![strategy] });
          const errors = SPEC_RULES.flatMap((rule) => rule(spec)).filter((f) => (f.severity ?? 'error') === 'error');
          assert.deepEqual(errors, [], `${strategy} cut at ${cut}`);
        }
      }
    });
  }
});

describe('the auto decision: data size × similarity', () => {
  const probes = (top: number, lower: number) => [
    { cut: 'out_relu', accuracy: top },
    { cut: 'block_13_expand_relu', accuracy: lower },
    { cut: 'block_6_expand_relu', accuracy: lower - 0.1 },
  ];
  const cases: { name: string; perClass: number; top: number; lower: number; chosen: NamedStrategy; cut: string }[] = [
    { name: 'small and similar', perClass: 100, top: 0.9, lower: 0.85, chosen: 'head-only', cut: 'out_relu' },
    { name: 'large and similar', perClass: 1000, top: 0.9, lower: 0.91, chosen: 'head-then-all', cut: 'out_relu' },
    {
      name: 'small and different',
      perClass: 100,
      top: 0.6,
      lower: 0.85,
      chosen: 'low-level',
      cut: 'block_13_expand_relu',
    },
    { name: 'large and different', perClass: 1000, top: 0.6, lower: 0.85, chosen: 'all', cut: 'out_relu' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = decideStrategy(c.perClass, probes(c.top, c.lower));
      assert.deepEqual([decision.chosen, decision.cut], [c.chosen, c.cut]);
    });
  }

  it('explains itself in one sentence', () => {
    assert.equal(
      decideStrategy(100, probes(0.86, 0.9)).sentence,
      'chose low-level: 100 images/class (small: < 300); probe accuracy block_13_expand_relu 0.90 vs out_relu 0.86 (different from what the base learned)',
    );
  });
});
