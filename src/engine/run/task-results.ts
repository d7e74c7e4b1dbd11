import type { PlanTask, TaskKind } from '../../plan/types.js';
import type { FittedDecision } from '../evaluate/decision-metrics.js';
import type { ExampleGallery } from '../evaluate/example-gallery.js';
import type { MaskOverlay } from '../tasks/segmentation/evaluate-masks.js';
import type { StagedTestMetrics } from '../tasks/test-metrics.js';
import type { EpochMetrics } from '../events.js';
import type { StageSummary } from '../train/checkpoints.js';
import type { BaselineResult } from '../train/scratch-baseline.js';
import type { BatchSource } from '../data/batches.js';
import type { RunModels } from './run-models.js';
import type { ShiftMeasurement } from '../adapt/measure-shift.js';

export type Split = 'train' | 'validation' | 'test';
export type SplitSources = Partial<Record<Split, BatchSource>>;

/** A features task's output: the features of the base as it was when the task ran, per split. */
export interface Features {
  task: string;
  /** A fine-tuning stage's frozen prefix ends at this layer; absent: the base's output at the cut. */
  boundary?: string;
  sources: SplitSources;
  /** Frees the tensors and folded models the sources read. */
  dispose(): void;
}

/** The stages trained so far, as a train task leaves them for the next: what checkpoints and the stage cache record. */
export interface Training {
  stages: StageSummary[];
  /** Every epoch's metrics so far, for the stage cache. */
  history: EpochMetrics[];
}

export interface Evaluation {
  test: StagedTestMetrics;
  /** The test images a report shows (image datasets). */
  gallery?: ExampleGallery;
  /** `task: segmentation`: the worst test images with their true and predicted masks. */
  masks?: MaskOverlay[];
}

export interface Exported {
  dir: string;
  verified: boolean;
  maxAbsDifference: number;
  probeExamples: number;
  /** `export.quantize`: the copy with quantized weights, its size beside the float model's, and its test metrics. */
  quantized?: {
    dtype: 'uint8' | 'float16';
    dir: string;
    weightBytes: number;
    floatWeightBytes: number;
    maxAbsDifference: number;
    test?: { accuracy: number; loss: number };
  };
}

/** What the adapt task did (AdaBN), for summary.json. */
export interface Adapted {
  method: 'adabn';
  /** Whose statistics were estimated: the training images' or the target's. */
  on: 'training' | 'target';
  images: number;
  /** On the target: the statistics it replaced (the training images'), with which a shift after it pools the training images. */
  replaced?: Float32Array;
  batchNormLayers: number;
  seconds: number;
  /** The statistics came from the stage cache. */
  reused: boolean;
}

/** What a task of each kind returns, for the tasks that depend on it. */
export interface TaskOutputs {
  data: SplitSources;
  base: undefined;
  adapt: Adapted;
  head: RunModels;
  features: Features;
  train: Training;
  decision: FittedDecision;
  evaluate: Evaluation;
  baseline: BaselineResult;
  /** Undefined when either domain had too few images to measure. */
  shift: ShiftMeasurement | undefined;
  /** Made and read inside `task: anomaly`'s own runner (engine/tasks/anomaly), never passed between staged tasks. */
  bank: never;
  export: Exported;
}

/**
 * What a task of each kind is given: the outputs of its dependencies, by
 * their kind (a task depends on one task of a kind at most). Present when
 * `readsOf` says the task reads them; the runner checks, before the first
 * task runs, that each of those is made by a task that runs earlier or was
 * restored.
 */
export interface TaskInputs {
  data: object;
  base: object;
  adapt: object;
  head: object;
  features: { data: SplitSources };
  train: { data: SplitSources; features?: Features; train?: Training };
  decision: { data?: SplitSources; features?: Features };
  evaluate: { data?: SplitSources; features?: Features; decision?: FittedDecision };
  baseline: { data: SplitSources };
  /** After AdaBN on the target: each domain is pooled with its own statistics. */
  shift: { adapt?: Adapted };
  bank: object;
  export: { decision?: FittedDecision };
}

export type TaskOf<K extends TaskKind> = Extract<PlanTask, { kind: K }>;

/** One dependency a task reads, and what it reads from it (for messages). */
export interface Read {
  kind: TaskKind;
  what: string;
  /** The dependency must be this task. */
  id?: string;
  /** Read when the task has such a dependency: a train task's first stage starts from the head, with no stages before it. */
  optional?: boolean;
}

const EXAMPLES: Read = { kind: 'data', what: 'the examples' };
/** The decision rule fitted on validation, read by the evaluation and the export of a pipeline that asks for one. */
const DECISION: Read = { kind: 'decision', what: 'the fitted decision rule', optional: true };
const featuresOf = (id: string | undefined): Read =>
  id ? { kind: 'features', what: `the features of ${id}`, id } : { kind: 'features', what: 'features' };

/** The dependencies a task reads: the contract between `TaskInputs` and the plan's `dependsOn`. */
export function readsOf(task: PlanTask): Read[] {
  switch (task.kind) {
    case 'features':
    case 'baseline':
      return [EXAMPLES];
    case 'train':
      return [
        EXAMPLES,
        ...(task.features ? [featuresOf(task.features)] : []),
        { kind: 'train', what: 'the stages trained before it', optional: true },
      ];
    case 'decision':
      return task.on === 'features' ? [featuresOf(task.features)] : [EXAMPLES];
    case 'evaluate':
      // Test-time augmentation transforms the images, whatever the head was evaluated on.
      return [
        ...(task.on === 'features' ? [featuresOf(task.features), ...(task.tta?.length ? [EXAMPLES] : [])] : [EXAMPLES]),
        DECISION,
      ];
    case 'export':
      return [DECISION];
    case 'shift':
      return [{ kind: 'adapt', what: 'the training statistics AdaBN replaced', optional: true }];
    default:
      return [];
  }
}

/** The task each of `task`'s reads reads from: the one it names, or its dependency of that kind (none: undefined). */
export function readDependencies(
  task: PlanTask,
  byId: ReadonlyMap<string, PlanTask>,
): { read: Read; id: string | undefined }[] {
  return readsOf(task).map((read) => ({
    read,
    id: read.id ?? task.dependsOn.find((d) => byId.get(d)?.kind === read.kind),
  }));
}

/**
 * Each task's output, kept by task id as tasks finish (as vitest keeps a
 * test's result on the test). Features hold tensors: they are freed as
 * soon as no task still to run reads them.
 */
export class TaskResults {
  private readonly outputs = new Map<string, unknown>();
  private readonly byId: ReadonlyMap<string, PlanTask>;

  constructor(tasks: readonly PlanTask[]) {
    this.byId = new Map(tasks.map((t) => [t.id, t]));
  }

  has(id: string): boolean {
    return this.outputs.has(id);
  }

  set<K extends TaskKind>(task: TaskOf<K>, output: TaskOutputs[K]): void {
    this.outputs.set(task.id, output);
  }

  get<K extends TaskKind>(task: TaskOf<K>): TaskOutputs[K] | undefined {
    return this.outputs.get(task.id) as TaskOutputs[K] | undefined;
  }

  /** The outputs of `task`'s dependencies that have one, by their kind. */
  inputsOf<K extends TaskKind>(task: TaskOf<K>): TaskInputs[K] {
    const inputs: Partial<Record<TaskKind, unknown>> = {};
    for (const id of task.dependsOn) {
      const dependency = this.byId.get(id);
      if (dependency && this.outputs.has(id)) inputs[dependency.kind] = this.outputs.get(id);
    }
    return inputs as TaskInputs[K];
  }

  /** Frees the features no task in `later` reads. */
  releaseUnread(later: readonly PlanTask[]): void {
    const read = new Set(later.flatMap((t) => readDependencies(t, this.byId).map((r) => r.id)));
    for (const [id, output] of this.outputs) {
      if (this.byId.get(id)?.kind !== 'features' || read.has(id)) continue;
      (output as Features).dispose();
      this.outputs.delete(id);
    }
  }

  /** Frees every output still held. */
  dispose(): void {
    this.releaseUnread([]);
  }
}
