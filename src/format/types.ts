/**
 * Two views of a pipeline, kept apart as tfjs-layers keeps its `keras_format`
 * types apart from its resolved ones: `PipelineFile` is what a user may write
 * (declared once, with the JSON Schema, in schema.ts), `PipelineSpec` is the
 * same pipeline with every default filled in and every path made absolute.
 */

import type { HeadLayerSpecOf, HeadLayerType } from './head-layers/registry.js';
import type { ACTIVATIONS } from './schema-parts.js';
import type { FreezeRule, PipelineFile } from './schema.js';
import type { NamedStrategy, StrategyKey, StrategyName } from './strategy.js';

import type { AnomalySpec } from './tasks/anomaly.js';
import type { EvaluationSpec } from './evaluation-keys.js';
import type { AdaptSpec, SourceSpec } from './adaptation-keys.js';
import type { SegmentationFolderDataset } from './dataset-formats/segmentation-folder.js';
import type { TaskName } from './tasks/registry.js';
export type { AnomalySpec } from './tasks/anomaly.js';
export type { EvaluationSpec, ThresholdMetric, TtaTransform } from './evaluation-keys.js';
export type { AdaptMethod, AdaptSpec, SourceSpec } from './adaptation-keys.js';
export type { TaskName } from './tasks/registry.js';
export type { FreezeRule, HeadLayerAsWritten, IdxFilesAsWritten, PipelineFile, StageAsWritten } from './schema.js';

export type BackendName = NonNullable<PipelineFile['backend']>;
export type ActivationName = (typeof ACTIVATIONS)[number];
export type OptimizerName = 'adam' | 'adamw' | 'sgd' | 'rmsprop';
export type MonitorName = 'val_loss' | 'val_accuracy' | 'loss' | 'accuracy' | 'val_meanIoU';
export type ScheduleType = 'constant' | 'step' | 'exponential' | 'cosine' | 'oneCycle';

/** Random training-image changes; 0 or false turns one off. */
export interface AugmentSpec {
  flipHorizontal: boolean;
  rotate: number;
  zoom: number;
  translate: number;
  brightness: number;
  contrast: number;
}

/** Pixel scaling as (pixel / 255 − mean) / std per RGB channel. */
export interface NormalizeSpec {
  mean: [number, number, number];
  std: [number, number, number];
  description: string;
}

export interface RegularizerSpec {
  l1?: number;
  l2?: number;
}

/** A file pair with its path resolved against the pipeline file's folder. */
export interface IdxFiles {
  images: string;
  labels: string;
}

export type FitMode = 'fill' | 'cover' | 'contain';
export interface ImageSpec {
  size: [number, number];
  channels: 1 | 3;
  fit: FitMode;
}
export interface LimitSpec {
  perClass?: number;
  testPerClass?: number;
  /** segmentationFolder: images, not examples per class. */
  train?: number;
  test?: number;
}

export interface DatasetCommon {
  classNames?: string[];
  /** Absent when no augmentation is asked for. */
  augment?: AugmentSpec;
  limit: LimitSpec;
  /** A fraction of the training examples, or the test split itself. */
  validation: number | 'test';
  image: ImageSpec;
}
export type DatasetSpec =
  | (DatasetCommon & { format: 'mnist' })
  | (DatasetCommon & { format: 'idx'; train: IdxFiles; test?: IdxFiles })
  | (DatasetCommon & {
      format: 'imageFolder';
      /** Absolute. */
      dir: string;
      /** Absolute; a separate test folder. */
      testDir?: string;
      /** Fraction of each class held out as the test split when there is no testDir. */
      testFraction: number;
      onBadFile: 'error' | 'skip';
    })
  | (DatasetCommon & {
      format: 'csv';
      /** Absolute. */
      file: string;
      labelColumn: string;
      /** Each row is an image path in this column … */
      imageColumn: string;
      /** … or, for tabular data, numbers in these columns. */
      featureColumns?: string[];
      testFraction: number;
      onBadFile: 'error' | 'skip';
    })
  | SegmentationFolderDataset;

/** A head layer resolved: `{type, ...its options with defaults}`, one kind per entry of the head-layer registry. */
export type HeadLayerSpec = { [K in HeadLayerType]: HeadLayerSpecOf<K> }[HeadLayerType];
export type { HeadLayerType };

export interface OptimizerSpec {
  name: OptimizerName;
  /** The head's peak learning rate (and every weight's, unless `baseLearningRate` differs). */
  learningRate: number;
  /** The unfrozen base layers' peak learning rate; equal to `learningRate` unless written apart. */
  baseLearningRate: number;
  /** Per-rule factors on `baseLearningRate`; the first matching rule applies. */
  multipliers: { layers: FreezeRule; multiplier: number }[];
  momentum: number;
  nesterov: boolean;
  /** Decoupled: kernel ← kernel × (1 − lr × weightDecay) each step. */
  weightDecay: number;
}

/** The learning rate as a function of the epoch position within a stage; see `learningRateAt`. */
export type ScheduleSpec =
  | { type: 'constant' }
  | { type: 'step'; everyEpochs: number; factor: number }
  | { type: 'exponential'; factor: number }
  | { type: 'cosine'; warmupEpochs: number; minLearningRate: number }
  | { type: 'oneCycle'; warmupFraction: number; divFactor: number; finalDivFactor: number };

/** A watched metric with its direction resolved. */
export interface MonitorSpec {
  monitor: MonitorName;
  mode: 'min' | 'max';
}
export interface EarlyStoppingSpec extends MonitorSpec {
  patience: number;
  minDelta: number;
  restoreBest: boolean;
}
export interface PlateauSpec extends MonitorSpec {
  factor: number;
  patience: number;
  minDelta: number;
  cooldown: number;
  minLearningRate: number;
}
export interface CheckpointSpec extends MonitorSpec {
  every: number;
  keepLast: number;
  best: boolean;
}

export interface StageSpec {
  name: string;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  earlyStopping?: EarlyStoppingSpec;
  reduceLROnPlateau?: PlateauSpec;
  classWeights: 'none' | 'balanced';
  labelSmoothing: number;
  unfreeze: FreezeRule[];
  freeze: FreezeRule[];
  batchNorm: 'frozen' | 'train';
}

/** A validated pipeline with every default filled in. JSON-serialisable. */
export interface PipelineSpec {
  name: string;
  /** Absolute path of the pipeline file. */
  file: string;
  seed: number;
  backend: BackendName;
  /** What the model learns to do; each task is a module in format/tasks, plan/tasks and engine/tasks. */
  task: TaskName;
  dataset: DatasetSpec;
  base: {
    /** A zoo name, or the model.json path as written. */
    model: string;
    /** Absolute path of the model.json, for a base loaded from disk (set for run: bases once the run is found). */
    file?: string;
    /** For downloaded bases: the address, and the sha256 the download must have, if pinned. */
    url?: string;
    sha256?: string;
    /** Plain http:// downloads allowed for this base. */
    allowHttp?: boolean;
    /** For `run:<pipeline>[/<id>]` bases: which run, and once found, its fingerprint. */
    run?: { pipeline: string; id?: string; fingerprint?: string };
    cut: string;
    normalize: NormalizeSpec;
  };
  /** Rules naming the base layers frozen before the first stage; ['all'] by default. */
  freeze: FreezeRule[];
  head: HeadLayerSpec[];
  train: { batchSize: number; checkpoints: CheckpointSpec; stages: StageSpec[] };
  /**
   * The strategy asked for and the keys it filled. For `auto`, the keys are
   * provisional (head-only) until the probe has measured and the planner
   * chosen; its choice is then filled in from the keys every named strategy
   * was resolved with at load (plan/strategy chooseStrategy).
   */
  strategy?: { requested: StrategyName; chosen: NamedStrategy; filled: StrategyKey[] };
  baseline: 'none' | 'scratch';
  /** `task: anomaly`: the normal classes and how the memory bank is made. */
  anomaly?: AnomalySpec;
  /** `evaluate:`: cross-validation, calibration, thresholds, test-time augmentation, the data audit (classification). */
  evaluate: EvaluationSpec;
  /** `adapt:`: unlabelled target-domain images and how the model is aligned to them. */
  adapt?: AdaptSpec;
  /** `dataset.source`: a second labelled dataset, weighted, in the training split only. */
  source?: SourceSpec;
  /** A quantized copy of the exported model, for the web. */
  export: { quantize: 'none' | 'uint8' | 'float16'; demoPage?: boolean };
}
