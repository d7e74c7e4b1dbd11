import type * as tf from '@tensorflow/tfjs';
import type { PipelineSpec } from '../../format/types.js';
import type { BaseLayerFacts, PlanInputs, SourceFacts, StrategyMeasurement } from '../../plan/types.js';
import { isSegmentationDataset } from '../tasks/segmentation/mask-source.js';
import type { CutBase } from './cut-base.js';
import type { LoadedInputs } from './read-inputs.js';

/** The inputs with their base built at the pipeline's cut: what the planner's facts describe and the runner uses. */
export interface RunInputs extends LoadedInputs {
  base: tf.LayersModel;
  /** The cut the base was built at; the runner checks it is the plan's. */
  cut: string;
  facts: PlanInputs;
}

/**
 * What the planner needs, measured from the inputs and the base as cut
 * (engine/facts/cut-base, which has checked the cut): digests, class
 * counts, the base's layers and its output shape at the image size.
 */
export function gatherFacts(
  spec: PipelineSpec,
  inputs: LoadedInputs,
  cut: CutBase,
  strategy?: StrategyMeasurement,
): RunInputs {
  const { artifacts, dataset, selection } = inputs;
  const { base } = cut;
  const facts: PlanInputs = {
    backend: inputs.backend.name,
    dataset: {
      digest: dataset.digest,
      numClasses: dataset.numClasses,
      ...(dataset.classNames ? { classNames: dataset.classNames } : {}),
      counts: { train: selection.train.length, validation: selection.validation.length, test: selection.test.length },
      // For masks, pixels of each class: what balanced class weights divide by.
      trainPerClass: isSegmentationDataset(dataset)
        ? [...dataset.pixelCounts.train.perClass]
        : inputs.source
          ? weighedPerClass(dataset.train.labels, selection.train, dataset.numClasses, inputs.source)
          : countPerClass(dataset.train.labels, selection.train, dataset.numClasses),
      ...(inputs.source ? { source: sourceFacts(inputs.source) } : {}),
    },
    ...(strategy ? { strategy } : {}),
    ...(inputs.target ? { adapt: { images: inputs.target.count, digest: inputs.target.digest } } : {}),
    base: {
      digest: artifacts?.digest ?? 'none',
      cutOutputShape: cut.outputShape,
      layerCount: base.layers.length,
      paramCount: base.countParams(),
      layers: base.layers.filter((l) => l.getClassName() !== 'InputLayer').map(layerFacts),
    },
  };
  return {
    ...inputs,
    base,
    cut: spec.base.cut,
    facts,
    seconds: { ...inputs.seconds, base: inputs.seconds.base + cut.seconds },
  };
}

function sourceFacts(source: NonNullable<LoadedInputs['source']>): SourceFacts {
  return {
    digest: source.digest,
    weightsDigest: source.weightsDigest,
    examples: source.split.count,
    perClass: source.perClass,
    mapped: source.mapped,
    dropped: source.dropped,
    weight: source.weight,
    decay: source.decay,
  };
}

/**
 * With a source, each class's training loss weight: its own examples count
 * 1 each, the source's their weight (before decay), so `classWeights:
 * balanced` evens out what each class weighs in the loss, not how many
 * examples it has.
 */
function weighedPerClass(
  labels: Int32Array,
  indexes: number[],
  numClasses: number,
  source: NonNullable<LoadedInputs['source']>,
): number[] {
  const perClass = countPerClass(labels, indexes.slice(0, source.from), numClasses);
  source.split.labels.forEach((label, i) => (perClass[label]! += source.weights[i]!));
  return perClass;
}

function countPerClass(labels: Int32Array, indexes: number[], numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const index of indexes) counts[labels[index]!]! += 1;
  return counts;
}

/** What the plan knows of a base layer: its weights, its output, and the layers it reads (its node in the base). */
export function layerFacts(layer: tf.layers.Layer): BaseLayerFacts {
  const shape = layer.outputShape;
  const single =
    Array.isArray(shape) &&
    !Array.isArray(shape[0]) &&
    (shape as (number | null)[]).slice(1).every((d) => typeof d === 'number');
  return {
    name: layer.name,
    className: layer.getClassName(),
    params: layer.countParams(),
    outputElements: outputElements(layer),
    ...(single ? { outputShape: (shape as number[]).slice(1) } : {}),
    inbound: layer.inboundNodes[0]?.inboundLayers.map((l) => l.name) ?? [],
  };
}

/** Values one example produces at a layer's output (0 for layers with several outputs). */
function outputElements(layer: tf.layers.Layer): number {
  const shape = layer.outputShape;
  if (!Array.isArray(shape) || Array.isArray(shape[0])) return 0;
  return (shape as (number | null)[]).slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
}
