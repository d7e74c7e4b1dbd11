import { datasetInput, examplesNoun } from '../../format/dataset-formats/input.js';
import type { PipelineSpec } from '../../format/types.js';
import type { TtaTransform } from '../../format/evaluation-keys.js';
import type { BaselineTask, EvaluateTask, ExportTask, PlanInputs, PlanTask, ResolvedHeadLayer } from '../types.js';
import type { StagesSoFar } from './stages-so-far.js';
import { fingerprinted, withTask, type TaskDraft } from './task-list.js';
import { foldConfig } from '../stratified-folds.js';

/** After the stages: evaluation when there is a test split, the scratch baseline on request, and the export, always last. */
export function closingTasks(
  spec: PipelineSpec,
  inputs: PlanInputs,
  head: ResolvedHeadLayer[],
  names: string[],
  trained: StagesSoFar,
): { tasks: PlanTask[]; exported: ExportTask } {
  const evaluated =
    inputs.dataset.counts.test > 0
      ? withTask(trained.tasks, evaluateTask(spec, trained, examplesNoun(datasetInput(spec.dataset))))
      : trained.tasks;
  const withBaseline =
    spec.baseline === 'scratch' ? withTask(evaluated, baselineTask(spec, inputs, head, trained)) : evaluated;
  const exported = fingerprinted<ExportTask>(withBaseline, exportTask(spec, names, trained.previous));
  return { tasks: [...withBaseline, exported], exported };
}

/**
 * The last stage trained the head on features: evaluate it on the same
 * features; else the whole model on images. Test-time augmentation runs the
 * whole model on images either way (a transform of cached features means
 * nothing); its transforms are in the config, so a run asking for other
 * ones evaluates again rather than reusing a cached evaluation.
 */
function evaluateTask(spec: PipelineSpec, trained: StagesSoFar, examples: 'images' | 'rows'): TaskDraft<EvaluateTask> {
  const tta: readonly TtaTransform[] = spec.evaluate.tta;
  const onFeatures = trained.stages[trained.stages.length - 1]?.trainable === 'head' ? trained.features : undefined;
  const augmented = tta.length > 0 ? { tta: [...tta] } : {};
  return {
    id: 'evaluate',
    kind: 'evaluate',
    on: onFeatures ? 'features' : 'images',
    ...(onFeatures ? { features: onFeatures.id } : {}),
    ...augmented,
    dependsOn: [trained.previous, 'data', ...(onFeatures ? [onFeatures.id] : [])],
    description: `evaluate on the test split${onFeatures ? ' (head on the features)' : ` (the whole model on ${examples})`}: loss, accuracy, per-class metrics, confusion matrix${tta.length > 0 ? `; and with test-time augmentation (${tta.join(', ')}; the whole model on each view of each image)` : ''}`,
    config: { ...foldConfig(spec), ...augmented },
  };
}

function baselineTask(
  spec: PipelineSpec,
  inputs: PlanInputs,
  head: ResolvedHeadLayer[],
  trained: StagesSoFar,
): TaskDraft<BaselineTask> {
  return {
    id: 'baseline',
    kind: 'baseline',
    dependsOn: ['data'],
    description: `baseline: the same architecture from random initialisation, ${trained.epochs} epoch(s) over the same stages`,
    config: {
      head,
      stages: trained.stages.map((s) => ({ epochs: s.epochs, optimizer: s.optimizer, schedule: s.schedule })),
      seed: spec.seed,
      base: inputs.base.digest,
      ...foldConfig(spec),
    },
  };
}

function exportTask(spec: PipelineSpec, names: string[], previous: string): TaskDraft<ExportTask> {
  const quantize = spec.export.quantize === 'none' ? undefined : spec.export.quantize;
  return {
    id: 'export',
    kind: 'export',
    dependsOn: [previous],
    config: { classNames: names, ...(quantize ? { quantize } : {}) },
    ...(quantize ? { quantize } : {}),
    ...(spec.export.demoPage !== undefined ? { demoPage: spec.export.demoPage } : {}),
    description: `export the model (tfjs LayersModel) with labels.json and preprocessing.json${quantize ? `; and with ${quantize} weights in model-${quantize}/ (${quantize === 'uint8' ? '4' : '2'}× smaller), evaluated on the test split` : ''}`,
  };
}
