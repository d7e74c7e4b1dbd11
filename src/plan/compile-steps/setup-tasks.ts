import { isNoBase } from '../../format/rules.js';
import type { PipelineSpec } from '../../format/types.js';
import type { AdaptTask, BaseTask, DataTask, HeadTask, PlanInputs, PlanTask, ResolvedHeadLayer } from '../types.js';
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
  return `${spec.dataset.format}: ${train} train / ${held} validation / ${test} test, ${inputs.dataset.numClasses} classes${perClass}${testPerClass} (${split}), ${shape}`;
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
