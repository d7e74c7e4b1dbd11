import { datasetInput, examplesNoun } from '../../format/dataset-formats/input.js';
import type { PipelineSpec } from '../../format/types.js';
import type { TtaTransform } from '../../format/evaluation-keys.js';
import type {
  BaselineTask,
  DecisionTask,
  EvaluateTask,
  ExportTask,
  PlanInputs,
  PlanTask,
  ResolvedHeadLayer,
} from '../types.js';
import type { StagesSoFar } from './stages-so-far.js';
import { fingerprinted, withTask, type TaskDraft } from './task-list.js';
import { foldConfig } from '../stratified-folds.js';

/**
 * After the stages: the decision rule fitted on validation when the
 * pipeline asks for one, evaluation when there is a test split, the scratch
 * baseline on request, and the export, always last.
 */
export function closingTasks(
  spec: PipelineSpec,
  inputs: PlanInputs,
  head: ResolvedHeadLayer[],
  names: string[],
  trained: StagesSoFar,
): { tasks: PlanTask[]; exported: ExportTask } {
  const decision = decisionTask(spec, names, trained);
  const decided = decision ? withTask(trained.tasks, decision) : trained.tasks;
  const evaluated =
    inputs.dataset.counts.test > 0
      ? withTask(decided, evaluateTask(spec, trained, examplesNoun(datasetInput(spec.dataset)), decision?.id))
      : decided;
  const withBaseline =
    spec.baseline === 'scratch' ? withTask(evaluated, baselineTask(spec, inputs, head, trained)) : evaluated;
  const exported = fingerprinted<ExportTask>(withBaseline, exportTask(spec, names, trained.previous, decision?.id));
  return { tasks: [...withBaseline, exported], exported };
}

/** The last stage trained the head on features: it is judged on the same features; else the whole model on images. */
const lastInputs = (trained: StagesSoFar) =>
  trained.stages[trained.stages.length - 1]?.trainable === 'head' ? trained.features : undefined;

/**
 * Evaluation on the last stage's inputs. Test-time augmentation runs the
 * whole model on images either way (a transform of cached features means
 * nothing); its transforms are in the config, so a run asking for other
 * ones evaluates again rather than reusing a cached evaluation.
 */
function evaluateTask(
  spec: PipelineSpec,
  trained: StagesSoFar,
  examples: 'images' | 'rows',
  decision: string | undefined,
): TaskDraft<EvaluateTask> {
  const tta: readonly TtaTransform[] = spec.evaluate.tta;
  const onFeatures = lastInputs(trained);
  const augmented = tta.length > 0 ? { tta: [...tta] } : {};
  return {
    id: 'evaluate',
    kind: 'evaluate',
    on: onFeatures ? 'features' : 'images',
    ...(onFeatures ? { features: onFeatures.id } : {}),
    ...augmented,
    dependsOn: [trained.previous, 'data', ...(onFeatures ? [onFeatures.id] : []), ...(decision ? [decision] : [])],
    description: `evaluate on the test split${onFeatures ? ' (head on the features)' : ` (the whole model on ${examples})`}: loss, accuracy, per-class metrics, confusion matrix${decision ? '; and the fitted decision rule against the raw outputs' : ''}${tta.length > 0 ? `; and with test-time augmentation (${tta.join(', ')}; the whole model on each view of each image)` : ''}`,
    config: { ...foldConfig(spec), ...augmented },
  };
}

/**
 * `evaluate: calibrate / threshold / abstain`: fitted on the validation
 * split after the last stage. Its config holds every key that changes what
 * is fitted (with the threshold's positive class resolved to its name), so
 * the fingerprints of the evaluation and the export that read it change with it.
 */
function decisionTask(spec: PipelineSpec, names: string[], trained: StagesSoFar): TaskDraft<DecisionTask> | undefined {
  const { calibrate, threshold, abstain } = spec.evaluate;
  if (calibrate === 'none' && !threshold && abstain === undefined) return undefined;
  const onFeatures = lastInputs(trained);
  const parts = [
    calibrate === 'temperature' ? 'a temperature (minimising the NLL)' : undefined,
    threshold ? `a threshold maximising ${threshold.metric}` : undefined,
  ].filter((p) => p !== undefined);
  return {
    id: 'decision',
    kind: 'decision',
    on: onFeatures ? 'features' : 'images',
    ...(onFeatures ? { features: onFeatures.id } : {}),
    dependsOn: [trained.previous, 'data', ...(onFeatures ? [onFeatures.id] : [])],
    description: `fit the decision rule on the validation split${parts.length > 0 ? `: ${parts.join(' and ')}` : ''}${abstain !== undefined ? `${parts.length > 0 ? ', ' : ': '}"unsure" below ${abstain}` : ''}`,
    config: {
      calibrate,
      ...(threshold
        ? {
            threshold: {
              metric: threshold.metric,
              ...(threshold.recall !== undefined ? { recall: threshold.recall } : {}),
              positive: threshold.positive ?? names[1] ?? names[0],
            },
          }
        : {}),
      ...(abstain !== undefined ? { abstain } : {}),
      classNames: names,
      ...foldConfig(spec),
    },
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

function exportTask(
  spec: PipelineSpec,
  names: string[],
  previous: string,
  decision: string | undefined,
): TaskDraft<ExportTask> {
  const quantize = spec.export.quantize === 'none' ? undefined : spec.export.quantize;
  return {
    id: 'export',
    kind: 'export',
    dependsOn: [previous, ...(decision ? [decision] : [])],
    config: { classNames: names, ...(quantize ? { quantize } : {}) },
    ...(quantize ? { quantize } : {}),
    ...(spec.export.demoPage !== undefined ? { demoPage: spec.export.demoPage } : {}),
    description: `export the model (tfjs LayersModel) with labels.json and preprocessing.json${decision ? ' and decision.json' : ''}${quantize ? `; and with ${quantize} weights in model-${quantize}/ (${quantize === 'uint8' ? '4' : '2'}× smaller), evaluated on the test split` : ''}`,
  };
}
