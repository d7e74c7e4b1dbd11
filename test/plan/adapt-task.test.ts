import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePlan } from '../../src/plan/compile-plan.js';
import type { AdaptTask, FeaturesTask, Plan, PlanInputs } from '../../src/plan/types.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';
import { dependencyProblems } from '../../src/engine/run/task-dependencies.js';

const PIPELINE = (adapt: string, stages = '    - { name: head, epochs: 3 }\n') => `name: p
dataset:
  format: idx
  train: { images: a, labels: b }
  test: { images: c, labels: d }
  validation: 0.1
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
${adapt}train:
  stages:
${stages}`;

const ADABN = 'adapt: { images: target, method: adabn }\n';
const FINE_TUNE = (batchNorm: string) =>
  `    - { name: head, epochs: 1 }\n    - { name: tune, epochs: 1, unfreeze: ["*"], batchNorm: ${batchNorm} }\n`;

const inputs = (options: { digest?: string; batchNorm?: boolean } = {}): PlanInputs => ({
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 2,
    counts: { train: 90, validation: 10, test: 40 },
    trainPerClass: [45, 45],
  },
  adapt: { images: 120, digest: options.digest ?? 't'.repeat(64) },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [3, 3, 1280],
    layerCount: 2,
    paramCount: 992,
    layers: [
      { name: 'Conv1', className: 'Conv2D', params: 864, inbound: ['input_1'] },
      options.batchNorm === false
        ? { name: 'relu', className: 'ReLU', params: 0, inbound: ['Conv1'] }
        : { name: 'bn_Conv1', className: 'BatchNormalization', params: 128, inbound: ['Conv1'] },
    ],
  },
});

function compile(yaml: string, facts: PlanInputs = inputs()) {
  const loaded = loadPipelineText('/p/p.yaml', yaml);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  return compilePlan(loaded.value.spec, facts);
}
function plan(yaml: string, facts?: PlanInputs): Plan {
  const result = compile(yaml, facts);
  assert.ok(result.ok, result.ok ? '' : result.diagnostics.map((d) => d.message).join('; '));
  assert.deepEqual(dependencyProblems(result.value), []);
  return result.value;
}
const task = (p: Plan, id: string) => p.tasks.find((t) => t.id === id);
const fingerprints = (p: Plan) => new Map(p.tasks.map((t) => [t.id, t.fingerprint]));

describe('the adapt task (adapt.method: adabn)', () => {
  it('without adapt: no adapt task, the head depends on the base', () => {
    const p = plan(PIPELINE(''));
    assert.equal(task(p, 'adapt'), undefined);
    assert.deepEqual(task(p, 'head')!.dependsOn, ['base']);
    assert.equal(p.adapt, undefined);
  });

  it('after the base, on the training images: the head and the features depend on it, and no feature worker builds the base', () => {
    const p = plan(PIPELINE(ADABN));
    const adapt = task(p, 'adapt') as AdaptTask;
    assert.deepEqual(
      { after: adapt.after, on: adapt.on, dependsOn: adapt.dependsOn, config: adapt.config },
      {
        after: 'base',
        on: 'training',
        dependsOn: ['data', 'base'],
        config: { method: 'adabn', on: 'training', batchSize: 32 },
      },
    );
    const ids = p.tasks.map((t) => t.id);
    assert.ok(ids.indexOf('base') < ids.indexOf('adapt') && ids.indexOf('adapt') < ids.indexOf('head'), ids.join(', '));
    assert.deepEqual(task(p, 'head')!.dependsOn, ['adapt']);
    const features = p.tasks.find((t): t is FeaturesTask => t.kind === 'features')!;
    assert.deepEqual([features.dependsOn, features.pristine], [['data', 'adapt'], false]);
    assert.deepEqual(p.adapt, { method: 'adabn', images: 120, training: 90, batchNormLayers: 1 });
    assert.match(adapt.description, /AdaBN re-estimates 1 batch-norm layers' statistics on the 90 training images/);
  });

  it('the training features keep their fingerprints when only the target images change; what reads the target statistics does not', () => {
    const one = fingerprints(plan(PIPELINE(ADABN)));
    const other = fingerprints(plan(PIPELINE(ADABN), inputs({ digest: 'u'.repeat(64) })));
    const without = fingerprints(plan(PIPELINE('')));
    for (const id of ['data', 'base'])
      assert.deepEqual([one.get(id), other.get(id)], [without.get(id), without.get(id)]);
    for (const id of ['adapt', 'head', 'features:head', 'train:head'])
      assert.equal(one.get(id), other.get(id), `${id} changed with the target images`);
    for (const id of ['adapt:target', 'evaluate', 'export'])
      assert.notEqual(one.get(id), other.get(id), `${id} kept its fingerprint with other target images`);
    for (const [id, fp] of one) {
      if (id === 'data' || id === 'base') continue;
      if (without.has(id)) assert.notEqual(fp, without.get(id), `${id} kept its fingerprint without adapt`);
    }
  });

  const stageCases: { name: string; stages: string; again?: string[] }[] = [
    { name: 'head-only stages', stages: '    - { name: head, epochs: 3 }\n' },
    { name: 'a fine-tuning stage with batchNorm: frozen', stages: FINE_TUNE('frozen') },
    { name: 'a fine-tuning stage with batchNorm: train', stages: FINE_TUNE('train'), again: ['tune'] },
  ];
  for (const c of stageCases) {
    it(`${c.name}: AdaBN on the target images after the last stage, which the evaluation (on images) and the export read`, () => {
      const p = plan(PIPELINE(ADABN, c.stages));
      const final = task(p, 'adapt:target') as AdaptTask;
      const last = p.tasks.filter((t) => t.kind === 'train').pop()!;
      assert.deepEqual([final.after, final.on, final.dependsOn], ['stages', 'target', [last.id]]);
      assert.deepEqual(final.config, {
        method: 'adabn',
        on: 'target',
        images: 120,
        digest: 't'.repeat(64),
        batchSize: 32,
      });
      assert.deepEqual(task(p, 'export')!.dependsOn, ['adapt:target']);
      const evaluate = task(p, 'evaluate')!;
      assert.deepEqual([(evaluate as { on: string }).on, evaluate.dependsOn], ['images', ['adapt:target', 'data']]);
      assert.deepEqual(p.adapt!.again, c.again);
    });
  }

  it('a base with no batch norm below the cut: an error at adapt.method', () => {
    const result = compile(PIPELINE(ADABN), inputs({ batchNorm: false }));
    assert.ok(!result.ok);
    const [d] = result.diagnostics;
    assert.deepEqual(d!.path, ['adapt', 'method']);
    assert.match(
      d!.message,
      /AdaBN re-estimates batch-norm statistics, but mobilenet_v2 has no BatchNormalization layer below the cut .*: AdaBN has nothing to adapt/,
    );
    assert.match(d!.hint!, /coral.*dann/);
  });

  it('method coral or dann: no adapt task (they align while a stage trains)', () => {
    for (const method of ['coral', 'dann']) {
      const p = plan(PIPELINE(`adapt: { images: target, method: ${method} }\n`, FINE_TUNE('frozen')));
      assert.equal(task(p, 'adapt'), undefined);
      assert.equal(p.adapt, undefined);
    }
  });
});
