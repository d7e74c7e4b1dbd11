import * as tf from '@tensorflow/tfjs';
import type { Plan } from '../../plan/types.js';
import type { StageCache } from '../cache/stage-cache.js';
import type { TestMetrics } from '../evaluate/metrics.js';
import type { ExampleGallery } from '../evaluate/example-gallery.js';
import type { EpochMetrics, EventListener } from '../events.js';
import type { RunInputs } from '../facts/gather-facts.js';
import type { RandomStreams } from '../random.js';
import type { CheckpointWriter, ResumeChoice, RunOutput, StageSummary } from '../train/checkpoints.js';
import type { BaselineResult } from '../train/scratch-baseline.js';
import type { BatchSource } from '../data/batches.js';
import type { FeatureWorkerPool } from '../workers/feature-pool.js';
import { prefixModel, suffixModel } from '../model/split-model.js';

export type Split = 'train' | 'validation' | 'test';
export type SplitSources = Partial<Record<Split, BatchSource>>;

export interface RunPlanOptions {
  onEvent: EventListener;
  output: RunOutput;
  signal?: AbortSignal;
  /** Continue from the run's newest intact checkpoint (if it has one) instead of starting afresh. */
  resume?: boolean;
  /** With `resume`: the checkpoint already chosen and verified (the caller needed its epoch); chosen here when absent. */
  resumeFrom?: ResumeChoice;
  /** Where finished stages and extracted features are kept for later runs; absent: nothing is reused. */
  cache?: StageCache;
}

/** What a run produced, for summary.json. */
export interface PlanOutcome {
  backend: string;
  data: {
    counts: { train: number; validation: number; test: number };
    storage: 'memory' | 'streaming';
    skipped: { file: string; reason: string }[];
    ignored: number;
  };
  stages: StageSummary[];
  test?: TestMetrics;
  /** The test images a report shows (image datasets with a test split). */
  gallery?: ExampleGallery;
  /** `baseline: scratch`: the same architecture and stages from random initialisation. */
  baseline?: BaselineResult;
  export: {
    dir: string; verified: boolean; maxAbsDifference: number; probeExamples: number;
    /** `export.quantize`: the copy with quantized weights, its size beside the float model's, and its test metrics. */
    quantized?: { dtype: 'uint8' | 'float16'; dir: string; weightBytes: number; floatWeightBytes: number; maxAbsDifference: number; test?: { accuracy: number; loss: number } };
  };
}

/**
 * What the tasks of one run hand each other, in the order they run: the
 * examples (data), the models (head), the features of the base as it is now
 * (features), the stages' outcomes (train), the test metrics (evaluate).
 * Each executor reads what earlier tasks left and adds its own; `dispose`
 * frees every tensor and worker the run made.
 */
export class RunState {
  examples: SplitSources = {};
  headLayers: tf.layers.Layer[] = [];
  /** The head as trained on features: the layers after those folded into feature extraction. */
  headModel: tf.LayersModel | undefined;
  /** Base and head as one model: trained when a stage fine-tunes, exported at the end. */
  fullModel: tf.LayersModel | undefined;
  /** Base plus the head's weightless leading layers, whose output the features are. */
  extractor: tf.LayersModel | undefined;
  /** The extractor with batch norm folded into its convolutions, for the base as it is now. */
  folded: tf.LayersModel | undefined;
  /** The features of the base as it is now: which task made them, the sources per split, the tensors they hold. */
  features: { task: string; sources: SplitSources; tensors: tf.Tensor[] } | undefined;
  workers: Promise<FeatureWorkerPool> | undefined;
  /** The whole model cut at a fine-tuning stage's frozen prefix, by the layer it ends at: both halves share its layers. */
  private readonly halves = new Map<string, { prefix: tf.LayersModel; suffix: tf.LayersModel }>();
  readonly stages: StageSummary[] = [];
  /** Every epoch's metrics so far, for the stage cache. */
  readonly history: EpochMetrics[] = [];
  /** The checkpoint to continue from; the stage it belongs to takes it. */
  resumePoint: ResumeChoice['point'];
  /** Whether this run continues from a checkpoint: then it leaves nothing in the stage cache. */
  resumed = false;
  /**
   * The stage cache entry this run is to train (the first stage it found
   * neither cached nor being trained by another run): claimed, so that a
   * run needing the same stage waits for it; given up once it is written.
   */
  stageClaim: { key: string; release: () => Promise<void> } | undefined;
  checkpoints!: CheckpointWriter;
  test: TestMetrics | undefined;
  gallery: ExampleGallery | undefined;
  baseline: BaselineResult | undefined;
  exported: PlanOutcome['export'] | undefined;

  constructor(
    readonly plan: Plan,
    readonly inputs: RunInputs,
    readonly options: RunPlanOptions,
    readonly streams: RandomStreams,
  ) {}

  get backend(): string {
    return this.inputs.backend.name;
  }

  /** The model a stage trains or checkpoints: the head alone, or base and head. */
  model(kind: 'head' | 'full'): tf.LayersModel {
    return (kind === 'full' ? this.fullModel : this.headModel)!;
  }

  /** The whole model from its input to `boundary`'s output. */
  prefix(boundary: string): tf.LayersModel {
    return this.split(boundary).prefix;
  }

  /** The whole model above `boundary`: what a fine-tuning stage trains on its frozen prefix's output. */
  suffix(boundary: string): tf.LayersModel {
    return this.split(boundary).suffix;
  }

  private split(boundary: string): { prefix: tf.LayersModel; suffix: tf.LayersModel } {
    let halves = this.halves.get(boundary);
    if (!halves) this.halves.set(boundary, (halves = { prefix: prefixModel(this.fullModel!, boundary), suffix: suffixModel(this.fullModel!, boundary) }));
    return halves;
  }

  /** Every base layer frozen again, as evaluation and the exported model.json should see them. */
  freezeBase(): void {
    for (const layer of this.inputs.base.layers) layer.trainable = false;
  }

  /** Frees the stored features; they describe a base a stage is about to change. */
  dropFeatures(): void {
    if (this.features) tf.dispose(this.features.tensors);
    this.features = undefined;
  }

  /** Gives up the stage claim when it is this stage's. */
  async releaseStageClaim(key?: string): Promise<void> {
    const claim = this.stageClaim;
    if (!claim || (key !== undefined && claim.key !== key)) return;
    this.stageClaim = undefined;
    await claim.release();
  }

  async dispose(): Promise<void> {
    await this.releaseStageClaim();
    this.dropFeatures();
    this.headModel?.dispose();
    if (this.folded && this.folded !== this.extractor) this.folded.dispose();
    await (await this.workers?.catch(() => undefined))?.close();
  }
}
