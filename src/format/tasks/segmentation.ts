import type { FileRule, RuleFinding, SpecRule } from '../rules.js';
import { headIsWritten, stagesOrStrategy } from './common-rules.js';
import type { TaskFormat } from './task-format.js';

/**
 * `task: segmentation`: its rules, and those of its dataset format
 * (dataset-formats/segmentation-folder.ts declares the format's keys and
 * how they resolve).
 */

// ——— Rules ———

/** Masks go with `task: segmentation` and it with them: one without the other is a mistake, named both ways. */
export const segmentationDataFitsTask: FileRule = (file) => {
  const isSegmentation = file.task === 'segmentation';
  const isFolder = file.dataset.format === 'segmentationFolder';
  if (isFolder && !isSegmentation)
    return [
      {
        path: ['dataset', 'format'],
        message: `format \`segmentationFolder\` reads masks, which only \`task: segmentation\` learns from; this pipeline's task is ${file.task ?? 'classification'}`,
        hint: 'add `task: segmentation`, or use `format: imageFolder` for one class per image',
      },
    ];
  if (isSegmentation && !isFolder)
    return [
      {
        path: ['dataset', 'format'],
        message: `\`task: segmentation\` learns a class per pixel from masks; format \`${file.dataset.format}\` has one label per example`,
        hint: 'use `format: segmentationFolder` with `images:`, `masks:` and `classes:`',
      },
    ];
  return [];
};

/** The folder format names its images, its masks and its classes. */
const foldersAndClassesWritten: FileRule = (file) => {
  if (file.dataset.format !== 'segmentationFolder') return [];
  const missing = (['images', 'masks', 'classes'] as const).filter((key) => file.dataset[key] === undefined);
  return missing.map((key) => ({
    path: ['dataset'],
    message: `format \`segmentationFolder\` needs \`${key}\``,
    hint: 'e.g. images: data/images, masks: data/masks, classes: [background, brick, grass]',
  }));
};

/** Limits by class and class names have no meaning for masks: `limit.train`/`limit.test` count images, `classes` names mask values. */
const limitsAndNamesFitMasks: FileRule = (file) => {
  const d = file.dataset;
  const findings: RuleFinding[] = [];
  const isFolder = d.format === 'segmentationFolder';
  for (const key of ['perClass', 'testPerClass'] as const) {
    if (isFolder && d.limit?.[key] !== undefined)
      findings.push({
        path: ['dataset', 'limit', key],
        key: true,
        message: `a mask holds many classes, so \`limit.${key}\` has no meaning for format \`segmentationFolder\``,
        hint: `count images: \`limit.${key === 'perClass' ? 'train' : 'test'}\``,
      });
  }
  for (const key of ['train', 'test'] as const) {
    if (!isFolder && d.limit?.[key] !== undefined)
      findings.push({
        path: ['dataset', 'limit', key],
        key: true,
        message: `\`limit.${key}\` counts images of format \`segmentationFolder\` only`,
        hint: `use \`limit.${key === 'train' ? 'perClass' : 'testPerClass'}\``,
      });
  }
  if (isFolder && d.classNames !== undefined)
    findings.push({
      path: ['dataset', 'classNames'],
      key: true,
      message: 'format `segmentationFolder` names its classes in `classes` (mask value order)',
      hint: 'move the names to `classes`',
    });
  return findings;
};

/** The last layer gives each pixel a score per class: a convolution with `filters: classes`, softmax or linear. */
export const headEndsInPixelClassifier: SpecRule = ({ head, dataset }) => {
  const i = head.length - 1;
  const last = head[i];
  if (last === undefined) return [];
  if (last.type !== 'conv2dTranspose' && last.type !== 'conv2d')
    return [
      {
        path: ['head', i],
        message: `a segmentation head must end with a convolution that outputs a score per class at each pixel, not \`${last.type}\``,
        hint: 'end with `- conv2dTranspose: { filters: classes, kernelSize: 3, strides: 2, padding: same }` (or write `head: unet`)',
      },
    ];
  const findings: RuleFinding[] = [];
  const known = 'classes' in dataset ? dataset.classes.length : undefined;
  if (typeof last.filters === 'number' && known !== undefined && last.filters !== known)
    findings.push({
      path: ['head', i, last.type, 'filters'],
      message: `the last layer outputs ${last.filters} scores per pixel, but \`dataset.classes\` names ${known} classes`,
      hint: 'write `filters: classes` and tlpipe fills in the class count',
    });
  if (last.activation !== 'softmax' && last.activation !== 'linear')
    findings.push({
      path: ['head', i, last.type, 'activation'],
      message: `the last layer's activation must be softmax (probabilities) or linear (logits), not ${last.activation}`,
      hint: 'tlpipe trains with per-pixel softmax cross-entropy over the classes',
    });
  return findings;
};

/** The per-pixel loss takes hard targets: smoothing them is not built for masks, so it is refused rather than ignored. */
const noLabelSmoothing: SpecRule = ({ train }) =>
  train.stages.flatMap((stage, i) =>
    stage.labelSmoothing > 0
      ? [
          {
            path: ['train', 'stages', i, 'labelSmoothing'],
            message: '`labelSmoothing` is not applied to masks: the per-pixel loss trains on each pixel’s class',
            hint: 'remove `labelSmoothing`',
          },
        ]
      : [],
  );

/** auto chooses by a linear probe of pooled features against one label per image, which masks do not give. */
const noAutoStrategy: SpecRule = ({ strategy }) =>
  strategy?.requested === 'auto'
    ? [
        {
          path: ['strategy'],
          message: '`strategy: auto` measures a linear probe against one class per image; a mask has a class per pixel',
          hint: 'name a strategy (head-then-all: the decoder, then every layer), or write train.stages',
        },
      ]
    : [];

/** A class per pixel, from masks: an encoder (the cut base) and a decoder (the head) that upsamples back to the image. */
export const segmentationFormat: TaskFormat = {
  description:
    'segmentation: a class for every pixel, learned from mask PNGs (format segmentationFolder) by a decoder on the base, e.g. `head: unet`; scored by pixel accuracy, per-class IoU and mean IoU',
  ownKeys: [],
  fileRules: [headIsWritten, stagesOrStrategy, foldersAndClassesWritten],
  rules: [headEndsInPixelClassifier, noLabelSmoothing, noAutoStrategy],
  // Pixel accuracy and loss: what its runs record per epoch and on the test split.
  monitors: ['val_meanIoU'],
  sweepMetrics: ['val_meanIoU', 'test_meanIoU', 'val_accuracy', 'val_loss', 'test_accuracy', 'test_loss'],
};

/** Rules about the segmentation format that hold whatever the task: registered among the common file rules. */
export const segmentationFolderRules: readonly FileRule[] = [segmentationDataFitsTask, limitsAndNamesFitMasks];
