import type { ConcreteBackend } from './kernels/backend.js';
import type { StagedTestMetrics } from './tasks/test-metrics.js';

/** One epoch's row in metrics.jsonl. Epochs count continuously across stages. */
export interface EpochMetrics {
  stage: string;
  epoch: number;
  stageEpoch: number;
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
  /** task: segmentation: mean IoU over the validation split. */
  val_meanIoU?: number;
  /** The learning rate at the epoch's first step (the head's, when groups differ). */
  lr: number;
  /** Each parameter group's rate at the epoch's first step, when there are several. */
  learningRates?: Record<string, number>;
  /** dataset.source: the share of the epoch's training examples that were the source's. */
  sourceShare?: number;
  /** dataset.source: the share of the epoch's loss weight that was the source's (after its weight and decay). */
  sourceWeightShare?: number;
  seconds: number;
  /** tfjs tensors alive at the epoch's end; the same at every epoch of a stage, or something leaks. */
  tensors?: number;
  /** Taken from the stage cache: an earlier run trained this epoch with the same plan. */
  reused?: true;
  /** `adapt.method: coral`: the epoch's mean CORAL loss between training and target batches (before its weight). */
  coral_loss?: number;
  /** `adapt.method: dann`: the domain classifier's mean binary cross-entropy on training and target batches. */
  domain_loss?: number;
  /** `adapt.method: dann`: how often the domain classifier told training from target features (0.5: it cannot). */
  domain_accuracy?: number;
}

/**
 * What the engine reports while it works. Renderers (listr2, plain lines,
 * JSON) and the run store subscribe; the engine never knows who listens.
 */
export type EngineEvent =
  | { type: 'backend'; backend: ConcreteBackend; skipped: { name: string; reason: string }[] }
  | {
      type: 'data';
      train: number;
      validation: number;
      /** `validation: test`: the validation examples are the test split's. */
      validationFrom?: 'test';
      test: number;
      numClasses: number;
      /** What one example is as the base sees it: `64×64` images or `49 features`. */
      input: string;
      /** Undecodable files left out (onBadFile: skip), and non-image files ignored. */
      skipped: number;
      ignored: number;
      /** Decoded pixels held in memory, or decoded again for every batch. */
      storage: 'memory' | 'streaming';
    }
  | { type: 'base'; model: string; cut: string; layers: number; params: number; outputShape: number[]; seconds: number }
  // `at`: a fine-tuning stage's frozen prefix, by the layer it ends at; absent: the base's features for the head.
  | { type: 'features-start'; split: string; total: number; at?: string }
  | { type: 'features-progress'; split: string; done: number; total: number; at?: string }
  | {
      type: 'features-end';
      split: string;
      total: number;
      seconds: number;
      imagesPerSecond: number;
      at?: string;
      /** Worker threads that computed them (absent: this thread). */ workers?: number;
    }
  | { type: 'features-reused'; split: string; total: number; at?: string }
  | { type: 'stage-reused'; stage: string; epochs: number }
  | { type: 'stage-start'; stage: string; index: number; epochs: number; firstEpoch: number }
  | { type: 'batch-end'; stage: string; epoch: number; batch: number; batches: number; loss: number }
  | { type: 'epoch-end'; metrics: EpochMetrics }
  | { type: 'checkpoint'; stage: string; epoch: number; dir: string }
  | { type: 'stage-end'; stage: string; epochsRun: number; stoppedEarly: boolean; restoredEpoch?: number }
  | { type: 'evaluate-end'; test: StagedTestMetrics }
  | { type: 'baseline-start'; epochs: number }
  | { type: 'baseline-epoch-end'; metrics: EpochMetrics }
  | { type: 'baseline-end'; test?: StagedTestMetrics }
  | {
      type: 'export-end';
      dir: string;
      verified: boolean;
      maxAbsDifference: number;
      quantized?: {
        dtype: 'uint8' | 'float16';
        dir: string;
        weightBytes: number;
        floatWeightBytes: number;
        maxAbsDifference: number;
        test?: { accuracy: number; loss: number };
      };
    }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  /** `strategy: auto` starts measuring (before the run starts: it decides the plan); it takes seconds, so it is said. */
  | { type: 'strategy-probe-start'; model: string; cuts: string[]; examples: number }
  /** What `strategy: auto` chose, and why, in how long. */
  | { type: 'strategy-probe-end'; chosen: string; decision: string; seconds: number };

export type EventListener = (event: EngineEvent) => void;

/**
 * A run's first and last events (the API sends them around the engine's):
 * `run-start` once its folder exists, `run-end` however it ended. With
 * `--json` they are the first and the last line.
 */
export interface RunStartEvent {
  type: 'run-start';
  pipeline: string;
  id: string;
  dir: string;
  fingerprint: string;
  backend: string;
  /** A resumed run continues in its own folder from `fromEpoch` (0: from the start). */
  resumed: boolean;
  fromEpoch?: number;
  /** What will happen, for progress displays: the stages with their epochs, and how the features are made. */
  stages: { name: string; firstEpoch: number; lastEpoch: number; optimizer: string; learningRate: number }[];
  features: 'precompute' | 'perBatch' | 'none';
  evaluates: boolean;
}
export interface RunEndEvent {
  type: 'run-end';
  pipeline: string;
  id: string;
  dir: string;
  status: 'completed' | 'failed' | 'interrupted';
  seconds: number;
  backend: string;
  /** `loss` only where the task has one (classification); anomaly's accuracy is at its threshold; segmentation's is per pixel, with its mean IoU. */
  test?: { accuracy: number; loss?: number; examples: number; auroc?: number; meanIoU?: number };
  error?: { message: string; hint?: string };
  /** What the run wrote for people and programs (absent when it did not get that far). */
  paths: { summary?: string; report?: string; model?: string };
}
/** A problem that does not stop the run (a stage that splits a residual block, say). */
export interface WarningEvent {
  type: 'warning';
  diagnostic: import('../diagnostics/diagnostic.js').Diagnostic;
}
export type RunEvent = EngineEvent | RunStartEvent | RunEndEvent | WarningEvent;
export type RunEventListener = (event: RunEvent) => void;
