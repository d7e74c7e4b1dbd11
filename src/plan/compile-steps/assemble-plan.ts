import type { PipelineSpec } from '../../format/types.js';
import { datasetInput } from '../../format/dataset-formats/input.js';
import { fingerprint } from '../fingerprint.js';
import type { ExportTask, LossKind, Plan, PlanInputs, PlanStage, PlanTask, ResolvedHeadLayer } from '../types.js';
import { lossFor } from './head.js';
import { strategyRecord } from './strategy-record.js';
import { foldConfig } from '../stratified-folds.js';

/** What the steps before made, for the plan to hold. */
export interface PlanParts {
  names: string[];
  head: ResolvedHeadLayer[];
  features: Plan['features'];
  stages: readonly PlanStage[];
  tasks: PlanTask[];
  exported: ExportTask;
  /** The task's loss; absent, the one the head's last layer calls for per example. */
  loss?: LossKind;
}

/** The plan: the spec's settings, the facts, and the tasks; its fingerprint is of every task's fingerprint and the export's. */
export function assemblePlan(spec: PipelineSpec, inputs: PlanInputs, parts: PlanParts): Plan {
  const { dataset } = spec;
  const input = datasetInput(dataset);
  const { head, tasks } = parts;
  return {
    formatVersion: 2,
    pipeline: spec.name,
    fingerprint: fingerprint(tasks.map((t) => t.fingerprint).concat(parts.exported.fingerprint)),
    seed: spec.seed,
    backend: spec.backend,
    classes: { count: inputs.dataset.numClasses, names: parts.names },
    data: {
      format: dataset.format,
      limit: dataset.limit,
      validation: dataset.validation,
      image: dataset.image,
      ...(input.kind === 'rows' ? { columns: input.columns } : {}),
      digest: inputs.dataset.digest,
    },
    base: {
      model: spec.base.model,
      cut: spec.base.cut,
      ...(spec.base.run ? { upstream: spec.base.run } : {}),
      ...inputs.base,
    },
    head,
    features: parts.features,
    ...(dataset.augment ? { augment: dataset.augment } : {}),
    normalize: spec.base.normalize,
    ...(spec.strategy ? { strategy: strategyRecord(spec, inputs) } : {}),
    baseline: spec.baseline,
    ...foldConfig(spec),
    checkpoints: spec.train.checkpoints,
    loss: parts.loss ?? lossFor(head),
    stages: [...parts.stages],
    tasks,
  };
}
