import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPipelineText } from '../../../src/format/load-pipeline.js';

const DATASET = `dataset:
  format: segmentationFolder
  images: data/images
  masks: data/masks
  classes: [background, cat, dog]
  test: 0.2`;
const UNET = 'base: { model: mobilenet_v2 }\nhead: unet';
const STAGES = 'train: { stages: [{ name: decoder, epochs: 1 }] }';
const pipeline = (...parts: string[]): string => ['name: p', ...parts].join('\n');

/** Each case: a file, and the key path and words of the one error it must draw (none: it loads). */
const CASES: { name: string; text: string; path?: (string | number)[]; says?: RegExp }[] = [
  {
    name: 'a segmentation pipeline with head: unet loads',
    text: pipeline('task: segmentation', DATASET, UNET, STAGES),
  },
  {
    name: 'val_meanIoU may be watched by a segmentation pipeline',
    text: pipeline(
      'task: segmentation',
      DATASET,
      UNET,
      'train: { stages: [{ name: d, epochs: 2, earlyStopping: { monitor: val_meanIoU } }] }',
    ),
  },
  {
    name: 'segmentationFolder without task: segmentation',
    text: pipeline(DATASET, UNET, STAGES),
    path: ['dataset', 'format'],
    says: /only `task: segmentation` learns from/,
  },
  {
    name: 'task: segmentation on a format with one label per example',
    text: pipeline('task: segmentation', 'dataset: { format: imageFolder, dir: data }', UNET, STAGES),
    path: ['dataset', 'format'],
    says: /learns a class per pixel from masks/,
  },
  {
    name: 'task: segmentation without masks',
    text: pipeline(
      'task: segmentation',
      'dataset: { format: segmentationFolder, images: data/images, classes: [a, b] }',
      UNET,
      STAGES,
    ),
    path: ['dataset'],
    says: /needs `masks`/,
  },
  {
    name: 'a last layer with a filter count that is not the class count',
    text: pipeline(
      'task: segmentation',
      DATASET,
      'base: { model: mobilenet_v2 }',
      'head:\n  - upSampling2d: { size: 32 }\n  - conv2d: { filters: 4, kernelSize: 1 }',
      STAGES,
    ),
    path: ['head', 1, 'conv2d', 'filters'],
    says: /outputs 4 scores per pixel, but `dataset.classes` names 3 classes/,
  },
  {
    name: 'a last layer that gives one score per image',
    text: pipeline(
      'task: segmentation',
      DATASET,
      'base: { model: mobilenet_v2 }',
      'head:\n  - globalAveragePooling2d: {}\n  - dense: { units: classes, activation: softmax }',
      STAGES,
    ),
    path: ['head', 1],
    says: /must end with a convolution that outputs a score per class at each pixel/,
  },
  {
    name: 'a classification head rule no longer applies to segmentation, nor a segmentation head to classification',
    text: pipeline(
      'dataset: { format: imageFolder, dir: data }',
      'base: { model: mobilenet_v2 }',
      'head: unet',
      STAGES,
    ),
    path: ['head', 8],
    says: /must end with a dense layer/,
  },
  {
    name: 'limits per class on masks',
    text: pipeline('task: segmentation', `${DATASET}\n  limit: { perClass: 10 }`, UNET, STAGES),
    path: ['dataset', 'limit', 'perClass'],
    says: /a mask holds many classes/,
  },
  {
    name: 'a demo page asked for loads (it draws the mask over a picked image)',
    text: pipeline('task: segmentation', DATASET, UNET, STAGES, 'export: { demoPage: true }'),
  },
  {
    name: 'label smoothing on masks',
    text: pipeline(
      'task: segmentation',
      DATASET,
      UNET,
      'train: { stages: [{ name: d, epochs: 1, labelSmoothing: 0.1 }] }',
    ),
    path: ['train', 'stages', 0, 'labelSmoothing'],
    says: /not applied to masks/,
  },
  {
    name: 'strategy: auto (it probes one label per image)',
    text: pipeline('task: segmentation', DATASET, UNET, 'strategy: auto'),
    path: ['strategy'],
    says: /a mask has a class per pixel/,
  },
  {
    name: 'classNames beside classes',
    text: pipeline('task: segmentation', `${DATASET}\n  classNames: [a, b, c]`, UNET, STAGES),
    path: ['dataset', 'classNames'],
    says: /names its classes in `classes`/,
  },
  {
    name: 'val_meanIoU watched by a classification pipeline',
    text: pipeline(
      'dataset: { format: imageFolder, dir: data }',
      'head: [{ globalAveragePooling2d: {} }, { dense: { units: classes, activation: softmax } }]',
      'train: { stages: [{ name: d, epochs: 2, earlyStopping: { monitor: val_meanIoU } }] }',
    ),
    path: ['train', 'stages', 0, 'earlyStopping', 'monitor'],
    says: /val_meanIoU is measured for `task: segmentation` only/,
  },
];

describe('task: segmentation in the pipeline file', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const loaded = loadPipelineText('/p/p.yaml', c.text);
      if (!c.says) {
        assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
        return;
      }
      assert.equal(loaded.ok, false);
      const errors = loaded.ok ? [] : loaded.diagnostics.filter((d) => d.severity === 'error');
      const found = errors.find((d) => c.says!.test(d.message));
      assert.ok(found, `expected ${c.says} among: ${errors.map((d) => d.message).join(' | ')}`);
      assert.deepEqual(found.path, c.path);
      assert.ok(found.hint, 'every finding says how to fix it');
    });
  }

  it('resolves the folders against the pipeline file, with the classes, ignoreIndex and image limits', () => {
    const loaded = loadPipelineText(
      '/p/p.yaml',
      pipeline('task: segmentation', `${DATASET}\n  ignoreIndex: 255\n  limit: { train: 40, test: 10 }`, UNET, STAGES),
    );
    assert.ok(loaded.ok);
    const { dataset, base } = loaded.value.spec;
    assert.equal(dataset.format, 'segmentationFolder');
    assert.ok(dataset.format === 'segmentationFolder');
    assert.equal(dataset.images, '/p/data/images');
    assert.equal(dataset.masks, '/p/data/masks');
    assert.deepEqual(dataset.classes, ['background', 'cat', 'dog']);
    assert.equal(dataset.ignoreIndex, 255);
    assert.deepEqual(dataset.limit, { train: 40, test: 10 });
    assert.equal(dataset.testFraction, 0.2);
    assert.equal(base.cut, 'block_16_project');
  });
});
