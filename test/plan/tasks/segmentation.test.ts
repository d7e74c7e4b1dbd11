import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type * as tf from '@tensorflow/tfjs';
import { layerFacts } from '../../../src/engine/facts/gather-facts.js';
import { buildBase } from '../../../src/engine/model/build-models.js';
import { loadZooArtifacts } from '../../../src/engine/model/zoo.js';
import { loadPipelineText } from '../../../src/format/load-pipeline.js';
import type { PipelineSpec } from '../../../src/format/types.js';
import { compilePlan } from '../../../src/plan/compile-plan.js';
import type { Plan, PlanInputs } from '../../../src/plan/types.js';

const SIZE = 64;

const load = (head: string, extra = ''): PipelineSpec => {
  const loaded = loadPipelineText(
    '/p/p.yaml',
    `name: p
task: segmentation
dataset:
  format: segmentationFolder
  images: images
  masks: masks
  classes: [background, brick, grass]
  ignoreIndex: 255
  test: 0.2
  image: { size: [${SIZE}, ${SIZE}] }
base: { model: mobilenet_v2 }
head: ${head}
train:
  classWeights: balanced
  stages:
    - { name: decoder, epochs: 2 }
    - { name: fine-tune, epochs: 1, unfreeze: [all], optimizer: { learningRate: 0.0001 } }
${extra}`,
  );
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  return loaded.value.spec;
};

/** Pixels of each class in the training masks, as the segmentation reader counts them. */
const PIXELS = [6000, 3000, 1000];

describe('the segmentation plan on the real mobilenet_v2 cut at block_16_project', () => {
  let inputs: PlanInputs;
  let base: tf.LayersModel;
  before(async () => {
    base = await buildBase(loadZooArtifacts('mobilenet_v2'), 'block_16_project', [SIZE, SIZE, 3]);
    inputs = {
      dataset: {
        digest: 'd'.repeat(64),
        numClasses: 3,
        classNames: ['background', 'brick', 'grass'],
        counts: { train: 20, validation: 2, test: 6 },
        trainPerClass: PIXELS,
      },
      base: {
        digest: 'b'.repeat(64),
        cutOutputShape: base.outputs[0]!.shape.slice(1) as number[],
        layerCount: base.layers.length,
        paramCount: base.countParams(),
        layers: base.layers.filter((l) => l.getClassName() !== 'InputLayer').map(layerFacts),
      },
    };
  });

  const planOf = (spec: PipelineSpec): Plan => {
    const result = compilePlan(spec, inputs);
    assert.ok(result.ok, result.ok ? '' : result.diagnostics.map((d) => d.message).join('; '));
    return result.value;
  };

  it('head: unet plans: every stage on images, the loss per pixel from logits, weights balanced by pixels', () => {
    const plan = planOf(load('unet'));
    assert.equal(plan.task, 'segmentation');
    assert.equal(plan.loss, 'perPixelSoftmaxCrossEntropyFromLogits');
    assert.deepEqual(
      plan.tasks.map((t) => t.kind),
      ['data', 'base', 'head', 'train', 'train', 'evaluate', 'export'],
    );
    for (const stage of plan.stages) {
      assert.match(stage.whole ?? '', /skip connection/);
      const total = PIXELS.reduce((a, b) => a + b, 0);
      assert.deepEqual(
        stage.classWeights,
        PIXELS.map((n) => total / (3 * n)),
      );
    }
    assert.equal(plan.tasks.find((t) => t.kind === 'evaluate')?.on, 'images');
    // The demo page on classification's conditions: written when the weights are small enough, unless export.demoPage says.
    assert.equal(plan.tasks.find((t) => t.kind === 'export' && t.demoPage === undefined)?.kind, 'export');
  });

  const LOSSES: { name: string; head: string; loss: Plan['loss'] }[] = [
    { name: 'unet (logits)', head: 'unet', loss: 'perPixelSoftmaxCrossEntropyFromLogits' },
    {
      name: 'a decoder ending in a linear 1×1 convolution',
      head: '[{ upSampling2d: { size: 32 } }, { conv2d: { filters: 3, kernelSize: 1 } }]',
      loss: 'perPixelSoftmaxCrossEntropyFromLogits',
    },
    {
      name: 'a decoder ending in a softmax',
      head: '[{ upSampling2d: { size: 32 } }, { conv2d: { filters: 3, kernelSize: 1, activation: softmax } }]',
      loss: 'perPixelCategoricalCrossentropy',
    },
  ];
  for (const c of LOSSES) {
    it(`the plan's loss is per pixel, after the last layer: ${c.name} → ${c.loss}`, () => {
      assert.equal(planOf(load(c.head)).loss, c.loss);
    });
  }

  it('the data task names what selects the targets: the classes and the ignored value', () => {
    const config = planOf(load('unet')).tasks[0]!.config;
    assert.deepEqual(config['classes'], ['background', 'brick', 'grass']);
    assert.equal(config['ignoreIndex'], 255);
    const other = load('unet').dataset;
    const renamed = { ...load('unet'), dataset: { ...other, ignoreIndex: 0 } } as PipelineSpec;
    assert.notEqual(planOf(renamed).fingerprint, planOf(load('unet')).fingerprint);
  });

  it('a decoder without skips still trains on images: stored features carry one label per example', () => {
    const plan = planOf(load('[{ upSampling2d: { size: 32 } }, { conv2d: { filters: 3, kernelSize: 1 } }]'));
    assert.ok(plan.tasks.every((t) => t.kind !== 'features'));
    for (const stage of plan.stages) assert.match(stage.whole ?? '', /a mask labels every pixel/);
  });

  const PROBLEMS: { name: string; head: string; says: RegExp }[] = [
    {
      name: 'a decoder that stops short of the image size',
      head: '[{ upSampling2d: { size: 16 } }, { conv2d: { filters: 3, kernelSize: 1 } }]',
      says: /outputs \[32, 32, 3\], but a mask needs \[64, 64, 3\]/,
    },
    {
      name: 'a decoder that overshoots the image size',
      head: '[{ upSampling2d: { size: 32 } }, { conv2dTranspose: { filters: classes, kernelSize: 3, strides: 2, padding: same } }]',
      says: /outputs \[128, 128, 3\], but a mask needs \[64, 64, 3\]/,
    },
  ];
  for (const c of PROBLEMS) {
    it(`refuses ${c.name}`, () => {
      const spec = load(c.head);
      const result = compilePlan(spec, inputs);
      assert.equal(result.ok, false);
      const messages = result.ok ? [] : result.diagnostics.map((d) => d.message);
      assert.ok(
        messages.some((m) => c.says.test(m)),
        messages.join(' | '),
      );
    });
  }
});
