import type { Diagnostic, Result } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import { headShapes } from '../../format/head-shape.js';
import { lossFor } from '../compile-steps/head.js';
import { perPixel, type Plan, type PlanInputs, type ResolvedHeadLayer } from '../types.js';
import { planStaged } from './staged-planner.js';
import type { PlanOptions } from './task-planner.js';

/**
 * Stored features carry one label per example; a mask is a label per pixel,
 * so every stage reads the images (and their masks) through the whole model.
 */
const IMAGES_ONLY = 'a mask labels every pixel, and stored features carry one label per example';

/**
 * `task: segmentation`: classification's steps (classes, head, freeze rules,
 * stages, discriminative rates, checkpoints), with a head whose output is
 * checked to be a class score per pixel at the image size, every stage on
 * images, the loss per pixel (class weights balanced by pixel counts: the
 * facts count pixels per class for this task), the test split scored by
 * pixel accuracy and IoU, and a demo page that draws the mask over a picked image.
 */
export function planSegmentation(spec: PipelineSpec, inputs: PlanInputs, options: PlanOptions = {}): Result<Plan> {
  return planStaged(spec, inputs, options, {
    task: 'segmentation',
    headProblems: outputProblems,
    features: imageFeatures,
    imagesOnly: IMAGES_ONLY,
    descriptions: { evaluate: EVALUATE_DESCRIPTION, export: EXPORT_DESCRIPTION },
    // The loss the last layer calls for, at every pixel, averaged over the counted ones.
    loss: (head) => perPixel(lossFor(head)),
  });
}

/** Always per batch (IMAGES_ONLY): the base's output for every example, had it been stored. */
function imageFeatures(_spec: PipelineSpec, inputs: PlanInputs): Plan['features'] {
  const { counts } = inputs.dataset;
  return {
    mode: 'perBatch',
    reason: IMAGES_ONLY,
    headLayersApplied: 0,
    shape: inputs.base.cutOutputShape,
    bytes: inputs.base.cutOutputShape.reduce((a, b) => a * b, 4) * (counts.train + counts.validation + counts.test),
  };
}

const EVALUATE_DESCRIPTION =
  'evaluate on the test split (the whole model on images): per-pixel loss, pixel accuracy, per-class IoU, mean IoU, the worst images';
const EXPORT_DESCRIPTION =
  'export the model (tfjs LayersModel, output [height, width, classes]) with labels.json, preprocessing.json and a demo page that draws the mask over a picked image';

/** The head must give every pixel of the image a score per class: [height, width, classes] at the image size. */
function outputProblems(spec: PipelineSpec, inputs: PlanInputs, head: ResolvedHeadLayer[]): Diagnostic[] {
  const baseLayers = new Map(inputs.base.layers.map((l) => [l.name, l.outputShape]));
  const { shapes, problem } = headShapes(head, inputs.base.cutOutputShape, baseLayers);
  if (problem) return []; // resolveHead reported it
  const output = shapes[shapes.length - 1]!;
  const [height, width] = spec.dataset.image.size;
  const expected = [height, width, inputs.dataset.numClasses];
  if (output.length === 3 && output.every((d, i) => d === expected[i])) return [];
  return [
    {
      file: spec.file,
      path: ['head', head.length - 1],
      message: `the head outputs [${output.join(', ')}], but a mask needs [${expected.join(', ')}]: a score per class at every pixel of the ${height}×${width} image`,
      hint: sizeHint(output, height, inputs.base.cutOutputShape),
      severity: 'error',
    },
  ];
}

/** How far the decoder is from the image size, in the terms of its layers. */
function sizeHint(output: readonly (number | null)[], height: number, cut: readonly number[]): string {
  const reached = output[0];
  if (output.length !== 3 || typeof reached !== 'number' || reached === height)
    return 'end with `conv2dTranspose: { filters: classes, … }`';
  const factor = height / reached;
  return factor > 1
    ? `the base's output is ${cut.join('×')}; upsample ${factor}× more (conv2dTranspose strides, upSampling2d), or change dataset.image.size`
    : `the decoder upsamples ${1 / factor}× too far; take out an upsampling step, or change dataset.image.size`;
}
