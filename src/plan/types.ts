import type { TtaTransform } from '../format/evaluation-keys.js';
import type { ClassesFilled } from '../format/head-layers/entry.js';
import type {
  AugmentSpec,
  BackendName,
  CheckpointSpec,
  EarlyStoppingSpec,
  HeadLayerSpec,
  ImageSpec,
  LimitSpec,
  NormalizeSpec,
  OptimizerSpec,
  PlateauSpec,
  ScheduleSpec,
  StageAsWritten,
  TaskName,
} from '../format/types.js';
import type { NamedStrategy, StrategyName } from '../format/strategy.js';

/** What `strategy: auto` measures before choosing (engine/facts/strategy-probe): a fact, gathered before planning. */
export interface StrategyProbe {
  /** Training examples per class (the mean over classes). */
  perClass: number;
  /** Held-out accuracy of a linear probe on the base's pooled features at each candidate cut, top first. */
  probes: { cut: string; accuracy: number }[];
  /** Probe examples per class: fitted on, and scored on. */
  sample: { fit: number; score: number };
}

/** The probe and the decision plan/strategy made from it. */
export interface StrategyMeasurement extends StrategyProbe {
  chosen: NamedStrategy;
  cut: string;
  /** The decision in one sentence. */
  sentence: string;
}

/** A backend that can run: what `auto` became. */
export type ConcreteBackend = Exclude<BackendName, 'auto'>;

/**
 * Facts about a pipeline's inputs that only reading files can establish.
 * The engine gathers them; the planner stays pure by taking them as data.
 */
export interface PlanInputs {
  /** The backend that will run the plan: the wasm heap limit applies to it alone. */
  backend?: ConcreteBackend;
  dataset: {
    /** sha256 over the dataset's files (or their bundled copies). */
    digest: string;
    /** The class count found in the labels. */
    numClasses: number;
    /** Class names the data defines (image folder names), when it does. */
    classNames?: string[];
    /** Examples per split after subsampling and the validation split. */
    counts: { train: number; validation: number; test: number };
    /** Training examples of each class, in label order (with `dataset.source`, its examples count their weight). */
    trainPerClass: number[];
    /** `dataset.source`, when read: its examples are part of `counts.train` and `trainPerClass`. */
    source?: SourceFacts;
  };
  /** For `strategy: auto`: what was measured and chosen. */
  strategy?: StrategyMeasurement;
  /** `adapt:`: the target-domain images used (after adapt.limit) and sha256 over them. */
  adapt?: { images: number; digest: string };
  base: {
    /** sha256 over the base model's topology and weights. */
    digest: string;
    /** The base's output shape at the cut for the pipeline's image size, without the batch axis. */
    cutOutputShape: number[];
    /**
     * Layers kept below (and including) the cut, the input layer included: what the user sees is
     * `layers.length`; this one stays as it was because it is in every run's fingerprint.
     */
    layerCount: number;
    paramCount: number;
    /** The kept layers in order (input layer excluded), with their weight counts, the layers they read and their output shape. */
    layers: BaseLayerFacts[];
  };
}

/** What the plan knows of `dataset.source`: enough to fingerprint and describe it. */
export interface SourceFacts {
  /** sha256 over the source's files. */
  digest: string;
  /** sha256 over its kept examples' weights. */
  weightsDigest: string;
  /** Kept source examples, and per pipeline class. */
  examples: number;
  perClass: number[];
  /** Source class → pipeline class. */
  mapped: { from: string; to: string }[];
  /** Source classes left out: they map to none of the pipeline's. */
  dropped: string[];
  weight: number;
  decay: number;
}

export interface BaseLayerFacts {
  name: string;
  className: string;
  params: number;
  outputElements?: number;
  /** One example's output shape (no batch axis). */
  outputShape?: number[];
  /** The layers whose outputs this one reads (the input layer by its name). */
  inbound?: string[];
}

export type TaskKind = PlanTask['kind'];

/**
 * One unit of work, in the order the runner executes them. Its fingerprint
 * covers its own config and its upstream fingerprints (`dependsOn`), so it
 * names what the task computes: the stage cache keys features and stages
 * by it.
 */
interface TaskCommon<K extends string> {
  id: string;
  kind: K;
  dependsOn: string[];
  description: string;
  config: Record<string, unknown>;
  fingerprint: string;
}
/** The examples of each split, as the data's digest, limits, split and seed select them. */
export type DataTask = TaskCommon<'data'>;
/** The pretrained base, cut. */
export type BaseTask = TaskCommon<'base'>;
/** The new head layers, seeded. */
export type HeadTask = TaskCommon<'head'>;
/**
 * `adapt.method: adabn`: the base's batch-norm moving statistics
 * re-estimated on the target images. after `base`: before anything reads
 * the base (a setup task); every later task depends on it through the head
 * (and the features tasks). after `stages`: again once the stages are
 * trained, when one of them trained batch-norm statistics on the training
 * images (`batchNorm: train`), so the evaluation and the export carry the
 * target's.
 */
/**
 * AdaBN (`adapt.method: adabn`), as its paper has it: each domain through the
 * base with its own batch-norm statistics. After the base, re-estimated on
 * the training images (the head trains on features of the source domain
 * normalised as that domain); after the stages, on the target images (the
 * evaluation and the exported model normalise as the target domain).
 */
export interface AdaptTask extends TaskCommon<'adapt'> {
  after: 'base' | 'stages';
  /** Whose statistics: the training split's images, or adapt.images. */
  on: 'training' | 'target';
}
/**
 * The frozen base's output (and the head's weightless leading layers) for
 * every split, in inference mode, for the head-only stages after it: once
 * per example (precompute) or per batch. It depends on the task that last
 * set the base: the base task, or a stage that fine-tuned it.
 */
export interface FeaturesTask extends TaskCommon<'features'> {
  mode: 'precompute' | 'perBatch';
  /** The base is the plan's own (no stage has changed it), so feature workers can build their own copies. */
  pristine: boolean;
  /**
   * For a fine-tuning stage: the output of its frozen prefix, the base
   * layer named here, for the training and validation splits. Absent: the
   * base's output at the cut with the head's weightless leading layers.
   */
  boundary?: string;
}
export interface TrainTask extends TaskCommon<'train'> {
  /** Index into `plan.stages`. */
  stage: number;
  /** The features task it trains on; absent when it runs images through the whole model. */
  features?: string;
}
export interface EvaluateTask extends TaskCommon<'evaluate'> {
  /** The head on the features of the last features task, or the whole model on images. */
  on: 'features' | 'images';
  features?: string;
  /** `evaluate.tta`: the test split also with test-time augmentation, the whole model on images (whatever `on` is). */
  tta?: TtaTransform[];
}
/**
 * `evaluate: calibrate / threshold / abstain`: the decision rule fitted on
 * the validation split's predictions after the last stage (on the same
 * inputs the evaluate task uses), for the evaluation and the export.
 */
export interface DecisionTask extends TaskCommon<'decision'> {
  on: 'features' | 'images';
  features?: string;
}
export type BaselineTask = TaskCommon<'baseline'>;
/**
 * `adapt:`: the domain shift between training and target images, a domain
 * classifier's AUROC on the base's pooled features. `before`: on the base
 * as cut, before anything adapts or trains it (it depends on the data and
 * the base only, and runs with the setup tasks, so a resumed run has it
 * too); `after`: on the base as the last task that changed it left it.
 */
export interface ShiftTask extends TaskCommon<'shift'> {
  when: 'before' | 'after';
  /** Images of each domain measured at most (a seeded sample). */
  sample: number;
}
/** `task: anomaly`: the memory bank of normal patch features, and the threshold from normal validation scores. */
export type BankTask = TaskCommon<'bank'>;
export interface ExportTask extends TaskCommon<'export'> {
  /** Also a copy with quantized weights, in model-<dtype>/, evaluated on the test split. */
  quantize?: 'uint8' | 'float16';
  /** `export.demoPage`: index.html always (true) or never (false); absent: when the weights are small enough. It changes no model, so no fingerprint. */
  demoPage?: boolean;
}
export type PlanTask =
  | DataTask
  | BaseTask
  | AdaptTask
  | HeadTask
  | FeaturesTask
  | TrainTask
  | DecisionTask
  | EvaluateTask
  | BaselineTask
  | ShiftTask
  | BankTask
  | ExportTask;

/** `task: anomaly`: what the memory bank is made of, resolved against the data and the base. */
export interface AnomalyPlan {
  /** The normal classes, by name and by label. */
  normal: string[];
  normalClasses: number[];
  /** Base layers whose maps, locally averaged and resized to `grid`, are concatenated into patch features. */
  layers: string[];
  grid: [number, number];
  /** Features per patch. */
  channels: number;
  /** Fraction of the normal patches kept (greedy k-center), and the threshold's quantile. */
  coreset: number;
  quantile: number;
  bank: { patches: number; bytes: number; fromPatches: number };
}

/** `adapt.method: adabn`: the base's batch-norm layers whose statistics are re-estimated, and on how many target images. */
export interface AdaptPlan {
  method: 'adabn';
  /** Target images the exported model's statistics are estimated on. */
  images: number;
  /** Training images the statistics the head trains with are estimated on. */
  training: number;
  batchNormLayers: number;
  /** Stages that train batch-norm statistics (`batchNorm: train`): the statistics are re-estimated after the last stage too. */
  again?: string[];
}

/** A head layer with `classes` (`units: classes`, `filters: classes`) replaced by the class count. */
export type ResolvedHeadLayer = ClassesFilled<HeadLayerSpec>;

export interface PlanStage {
  name: string;
  index: number;
  taskId: string;
  epochs: number;
  /** Epochs are numbered continuously across stages, from 1. */
  firstEpoch: number;
  lastEpoch: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  /**
   * The weights that learn, split by learning rate; each group gets its own
   * optimizer, since scaling gradients is not the same as a lower rate for
   * Adam. The head's group comes first.
   */
  parameterGroups: ParameterGroup[];
  schedule: ScheduleSpec;
  earlyStopping?: EarlyStoppingSpec;
  reduceLROnPlateau?: PlateauSpec;
  /** Per-class loss weights in label order, or null for equal weights. */
  classWeights: number[] | null;
  labelSmoothing: number;
  /** What learns in this stage: the head alone (on the frozen base's features) or part of the base too. */
  trainable: 'head' | 'base+head';
  /**
   * What its checkpoints and stage-cache entry hold: the head alone while
   * the base is the plan's, base and head once this or an earlier stage has
   * changed it.
   */
  weights: 'head' | 'full';
  /** Base layers whose weights learn in this stage, in base order. */
  trainableBaseLayers: string[];
  /**
   * A fine-tuning stage's frozen prefix: the base layers below everything
   * that learns, a fixed function run in inference mode outside the
   * gradient tape; the stage trains the layers above `boundary` on its
   * output. precompute: once per example, kept in memory; perBatch: for
   * every batch (augmentation, or too large to keep). Absent: the stage
   * runs images through the whole model (`whole` says why).
   */
  frozenPrefix?: {
    boundary: string;
    shape: number[];
    layers: number;
    bytes: number;
    mode: 'precompute' | 'perBatch';
    reason?: string;
  };
  /** Why a fine-tuning stage runs images through the whole model. */
  whole?: string;
  /**
   * `adapt.method: coral | dann` in a stage that trains base layers: each
   * step also runs a batch of target images and adds the alignment loss on
   * the base's pooled output at the cut.
   */
  alignment?: StageAlignment;
  batchNorm: 'frozen' | 'train';
  /** Weights that learn in this stage, and all weights of base + head. */
  trainableParams: number;
  totalParams: number;
  fingerprint: string;
}

export interface StageAlignment {
  method: 'coral' | 'dann';
  /** coral: the loss's weight; dann: the reversed gradient's final scale. */
  weight: number;
  /** The target images' digest and count: other images are another alignment. */
  targetDigest: string;
  targetCount: number;
}

export interface ParameterGroup {
  /** `head`, `base`, or `base×<multiplier>`. */
  name: string;
  /** Peak learning rate, before the schedule. */
  learningRate: number;
  /** Whether the head's weights are in this group. */
  head: boolean;
  /** Base layers whose weights are in this group. */
  baseLayers: string[];
}

export interface Plan {
  formatVersion: 2;
  pipeline: string;
  /**
   * What the model learns to do. Absent for classification: plans made
   * before tasks existed read the same, and a classification plan's
   * fingerprints stay what they were.
   */
  task?: Exclude<TaskName, 'classification'>;
  /** `task: anomaly`: the memory bank. */
  anomaly?: AnomalyPlan;
  /** `adapt.method: adabn`: what adapts, on how many target images. */
  adapt?: AdaptPlan;
  /** Fingerprint of the whole plan: of every task's fingerprint and the export's. */
  fingerprint: string;
  seed: number;
  backend: BackendName;
  classes: { count: number; names: string[] };
  data: {
    format: string;
    limit: LimitSpec;
    validation: number | 'test';
    image: ImageSpec;
    /** Tabular rows: the feature columns, in input order (absent for images). */
    columns?: string[];
    digest: string;
  };
  base: {
    model: string;
    cut: string;
    /** For a run: base, the run it came from. */
    upstream?: { pipeline: string; id?: string; fingerprint?: string };
    digest: string;
    cutOutputShape: number[];
    layerCount: number;
    paramCount: number;
    layers: BaseLayerFacts[];
  };
  head: ResolvedHeadLayer[];
  /**
   * How the frozen base feeds the head in stages that train only the head.
   * A frozen base with batch norm in inference mode is a fixed function, so
   * it runs in inference mode, outside the gradient tape. precompute: once
   * per example, features stored (again after a fine-tuning stage changed
   * the base). perBatch: for every batch, when augmentation changes the
   * images or the features would not fit in memory. Stages that unfreeze
   * base layers run images through the whole model instead.
   */
  features: {
    mode: 'precompute' | 'perBatch';
    /** Why features are computed per batch, when they are. */
    reason?: string;
    /**
     * Leading head layers without weights or randomness (pooling, flatten)
     * are part of the fixed function too; they run with the base, so features
     * are [channels], not [h, w, channels].
     */
    headLayersApplied: number;
    /** The shape of one stored feature vector. */
    shape: number[];
    bytes: number;
  };
  /** Random changes to training images; absent when off. */
  augment?: AugmentSpec;
  /** How pixels are scaled for the base. */
  normalize: NormalizeSpec;
  /** The strategy asked for, what it filled in (as a user would write it), and for auto, why. */
  strategy?: {
    requested: StrategyName;
    chosen: NamedStrategy;
    filled: Partial<{ base: { cut: string }; freeze: 'all' | 'none'; train: { stages: StageAsWritten[] } }>;
    measurement?: StrategyMeasurement;
  };
  /** `baseline: scratch`: the same architecture and stages trained from random initialisation. */
  baseline: 'none' | 'scratch';
  /** `evaluate.fold`: this run is fold `index` (1..k) of a k-fold cross-validation of train+validation. */
  fold?: { k: number; index: number };
  /** Which epochs' checkpoints are saved and kept. */
  checkpoints: CheckpointSpec;
  /**
   * The loss follows the last layer, probabilities (softmax) or logits
   * (linear), and the task: one class per example, or per pixel.
   */
  loss: LossKind;
  stages: PlanStage[];
  tasks: PlanTask[];
}

/** Cross-entropy of one class score vector per example: from probabilities (a softmax last layer) or logits. */
export const EXAMPLE_LOSSES = ['categoricalCrossentropy', 'softmaxCrossEntropyFromLogits'] as const;
/** The same cross-entropy at every pixel of a mask, averaged over the pixels it counts (task: segmentation). */
export const PIXEL_LOSSES = ['perPixelCategoricalCrossentropy', 'perPixelSoftmaxCrossEntropyFromLogits'] as const;
export type ExampleLoss = (typeof EXAMPLE_LOSSES)[number];
export type PixelLoss = (typeof PIXEL_LOSSES)[number];
export type LossKind = ExampleLoss | PixelLoss;
export const isPixelLoss = (kind: LossKind): kind is PixelLoss => (PIXEL_LOSSES as readonly string[]).includes(kind);
const AT_EVERY_PIXEL: { readonly [K in ExampleLoss]: PixelLoss } = {
  categoricalCrossentropy: 'perPixelCategoricalCrossentropy',
  softmaxCrossEntropyFromLogits: 'perPixelSoftmaxCrossEntropyFromLogits',
};
/** The per-pixel form of a loss: the same for the same last layer (probabilities or logits). */
export const perPixel = (kind: LossKind): PixelLoss => (isPixelLoss(kind) ? kind : AT_EVERY_PIXEL[kind]);

/** The plan's task: classification unless the plan names another. */
export const taskOf = (plan: Pick<Plan, 'task'>): TaskName => plan.task ?? 'classification';
