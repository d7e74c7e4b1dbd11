import { isNoBase } from '../../format/rules.js';
import type { SourceSpec } from '../../format/adaptation-keys.js';
import type { PipelineSpec } from '../../format/types.js';
import type {
  AdaptTask,
  BaseTask,
  DataTask,
  HeadTask,
  PlanInputs,
  PlanTask,
  ResolvedHeadLayer,
  SourceFacts,
} from '../types.js';
import { adaptTask } from './adapt-task.js';
import { withTask } from './task-list.js';

/** The tasks every plan starts with: the data's splits, the base cut (and adapted, with adapt.method adabn), the head seeded. */
export function setupTasks(spec: PipelineSpec, inputs: PlanInputs, head: ResolvedHeadLayer[]): PlanTask[] {
  const { dataset } = spec;
  const dataConfig = {
    format: dataset.format,
    digest: inputs.dataset.digest,
    limit: dataset.limit,
    validation: dataset.validation,
    ...('testFraction' in dataset ? { testFraction: dataset.testFraction, onBadFile: dataset.onBadFile } : {}),
    // Which mask values are classes and which is ignored select the targets (segmentationFolder only).
    ...(dataset.format === 'segmentationFolder'
      ? { classes: dataset.classes, ignoreIndex: dataset.ignoreIndex ?? null }
      : {}),
    image: dataset.image,
    normalize: spec.base.normalize,
    augment: dataset.augment ?? null,
    seed: spec.seed,
    // Present only with a source that is read: a run without one (or with `weight: 0`) keeps its fingerprints.
    ...(spec.source && inputs.dataset.source ? { source: sourceConfig(spec.source, inputs.dataset.source) } : {}),
  };
  const data = withTask<DataTask>([], {
    id: 'data',
    kind: 'data',
    dependsOn: [],
    description: describeData(spec, inputs),
    config: dataConfig,
  });
  const base = withTask<BaseTask>(data, {
    id: 'base',
    kind: 'base',
    dependsOn: [],
    description: isNoBase(spec.base.model)
      ? `no base: the head reads the ${inputs.base.cutOutputShape.join('×')} inputs themselves`
      : `${spec.base.model} cut at ${spec.base.cut} → ${inputs.base.cutOutputShape.join('×')}, frozen`,
    config: {
      // The digest names the weights; a model.json's path does not change what it computes.
      model: spec.base.file ? 'model.json' : spec.base.model,
      ...(spec.base.run ? { upstream: spec.base.run } : {}),
      cut: spec.base.cut,
      digest: inputs.base.digest,
      inputSize: dataset.image.size,
    },
  });
  const adapt = adaptTask(spec, inputs);
  const adapted = adapt ? withTask<AdaptTask>(base, adapt) : base;
  const { numClasses } = inputs.dataset;
  // The head builds the models on the base as the last setup task left it: its fingerprint, and so every later one, chains the adaptation.
  return withTask<HeadTask>(adapted, {
    id: 'head',
    kind: 'head',
    dependsOn: [adapt ? 'adapt' : 'base'],
    description: `head: ${head.map(describeLayer).join(' → ')}`,
    config: { head, seed: spec.seed, numClasses },
  });
}

/**
 * What of the source changes the training data: its files, the reader keys
 * that select and label its examples, which classes it gives to which, its
 * weights and their decay.
 */
function sourceConfig(spec: SourceSpec, source: SourceFacts): Record<string, unknown> {
  return {
    digest: source.digest,
    reader: sourceReaderKeys(spec),
    mapped: source.mapped,
    weights: source.weightsDigest,
    weight: source.weight,
    decay: source.decay,
  };
}

/**
 * The source's reader keys that pick and label its examples (another label
 * column of the same file with the same class counts changes no digest).
 * Not its paths: the digest over its files covers them, and a run elsewhere
 * reading the same files keeps its fingerprints.
 */
function sourceReaderKeys({ dataset, weightColumn }: SourceSpec): Record<string, unknown> {
  const keys: Record<string, unknown> = { format: dataset.format, limit: dataset.limit };
  if (dataset.classNames) keys.classNames = dataset.classNames;
  if ('onBadFile' in dataset) keys.onBadFile = dataset.onBadFile;
  if (dataset.format === 'csv') {
    keys.labelColumn = dataset.labelColumn;
    keys.imageColumn = dataset.imageColumn;
    if (dataset.featureColumns) keys.featureColumns = dataset.featureColumns;
  }
  if (weightColumn !== undefined) keys.weightColumn = weightColumn;
  return keys;
}

/** The source's line in the plan: how many examples of which classes, what was left out, how they weigh. */
export function describeSource(source: SourceFacts, classNames: readonly string[]): string {
  const perClass = source.perClass
    .map((n, c) => (n > 0 ? `${classNames[c] ?? c} ${n}` : ''))
    .filter(Boolean)
    .join(', ');
  const renamed = source.mapped.filter((m) => m.from !== m.to).map((m) => `${m.from} → ${m.to}`);
  const decay = source.decay === 1 ? '' : `, × ${source.decay} per epoch`;
  return [
    `source: ${source.examples} training ${source.examples === 1 ? 'example' : 'examples'} (${perClass}), weight ${source.weight}${decay}`,
    ...(renamed.length > 0 ? [`mapped ${renamed.join(', ')}`] : []),
    ...(source.dropped.length > 0 ? [`left out (no matching class): ${source.dropped.join(', ')}`] : []),
  ].join('; ');
}

function describeData(spec: PipelineSpec, inputs: PlanInputs): string {
  const { limit, validation, image } = spec.dataset;
  const perClass = limit.perClass ? `, ≤${limit.perClass}/class` : '';
  const testPerClass = limit.testPerClass ? `, test ≤${limit.testPerClass}/class` : '';
  const { train, validation: held, test } = inputs.dataset.counts;
  const shape =
    'featureColumns' in spec.dataset && spec.dataset.featureColumns
      ? `${spec.dataset.featureColumns.length} feature columns`
      : `${image.size.join('×')}×${image.channels}`;
  const { folds, fold } = spec.evaluate;
  const split =
    folds !== undefined && fold !== undefined
      ? `fold ${fold} of ${folds}: validation is this fold of train+validation, train the other folds`
      : `validation ${validation}`;
  const { source } = inputs.dataset;
  const classNames = spec.dataset.classNames ?? inputs.dataset.classNames ?? [];
  const own = source ? ` (${train - source.examples} own + ${source.examples} source)` : '';
  const line = `${spec.dataset.format}: ${train} train${own} / ${held} validation / ${test} test, ${inputs.dataset.numClasses} classes${perClass}${testPerClass} (${split}), ${shape}`;
  return source ? `${line}. ${describeSource(source, classNames)}` : line;
}

function describeLayer(layer: ResolvedHeadLayer): string {
  switch (layer.type) {
    case 'dense':
      return `dense(${layer.units}${layer.activation === 'linear' ? '' : `, ${layer.activation}`})`;
    case 'dropout':
      return `dropout(${layer.rate})`;
    default:
      return layer.type;
  }
}
