import type { MaskOverlay } from '../tasks/segmentation/evaluate-masks.js';
import type { TaskTestMetrics } from '../tasks/test-metrics.js';
import type { Plan } from '../../plan/types.js';
import type { StageCache } from '../cache/stage-cache.js';
import type { EventListener } from '../events.js';
import type { RunInputs } from '../facts/gather-facts.js';
import type { RandomStreams } from '../random.js';
import type { CheckpointWriter, ResumeChoice, RunOutput, StageSummary } from '../train/checkpoints.js';
import type { BaselineResult } from '../train/scratch-baseline.js';
import type { FeatureWorkerPool } from '../workers/feature-pool.js';
import type { ExampleGallery } from '../evaluate/example-gallery.js';
import type { RunModels } from './run-models.js';
import type { Adapted, Exported } from './task-results.js';

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
  /** `adapt.method: adabn`: what the adapt task did. */
  adapt?: Adapted;
  /** The test split's metrics, as the plan's task measures them. */
  test?: TaskTestMetrics;
  /** `task: segmentation`: the worst test images with their true and predicted masks. */
  masks?: MaskOverlay[];
  /** The test images a report shows (image datasets with a test split). */
  gallery?: ExampleGallery;
  /** `baseline: scratch`: the same architecture and stages from random initialisation. */
  baseline?: BaselineResult;
  /** `adapt:`: a domain classifier's AUROC telling target from training images by the base's pooled features, before and after adaptation. */
  domainShift?: {
    before: { auroc: number };
    after: { auroc: number };
    train: number;
    target: number;
    features: string;
  };
  export: Exported;
}

/** What every task may use, from before the first one runs: the plan, the gathered inputs, the caller's options (events, output, signal, cache), the random streams. */
export interface SetupContext {
  readonly plan: Plan;
  readonly inputs: RunInputs;
  readonly options: RunPlanOptions;
  readonly streams: RandomStreams;
}

/**
 * The run-wide resources the tasks after setup share: the models (which
 * every stage changes in place), the checkpoint writer, where a resumed
 * run continues, the stage claim and the feature workers. Data passes
 * between tasks as their outputs, not through here.
 */
export interface RunContext extends SetupContext {
  readonly models: RunModels;
  readonly checkpoints: CheckpointWriter;
  /** The checkpoint to continue from; the train task of its stage takes it. */
  readonly resumePoint: ResumeChoice['point'];
  /** Whether this run continues from a checkpoint: then it leaves nothing in the stage cache. */
  readonly resumed: boolean;
  readonly stageClaim: StageClaim;
  readonly featureWorkers: FeatureWorkers;
}

/**
 * The stage cache entry a run is to train (the first stage it found
 * neither cached nor being trained by another run), claimed so that a run
 * needing the same stage waits for it; given up once it is written, or
 * when the run ends.
 */
export class StageClaim {
  constructor(private claim?: { key: string; release: () => Promise<void> }) {}

  /** Gives the claim up; with `key`, only when the claim is that entry's. */
  async release(key?: string): Promise<void> {
    const claim = this.claim;
    if (!claim || (key !== undefined && claim.key !== key)) return;
    this.claim = undefined;
    await claim.release();
  }
}

/** The run's feature worker threads: started by the first task that wants them, shared by later ones, closed when the run ends. */
export class FeatureWorkers {
  private pool: Promise<FeatureWorkerPool> | undefined;

  get(start: () => Promise<FeatureWorkerPool>): Promise<FeatureWorkerPool> {
    return (this.pool ??= start());
  }

  async close(): Promise<void> {
    await (await this.pool?.catch(() => undefined))?.close();
  }
}

/** What summary.json says of the data, whatever the task: the examples each split used, how they were held, what was skipped. */
export function dataOutcome({ selection, dataset }: Pick<RunInputs, 'selection' | 'dataset'>): PlanOutcome['data'] {
  return {
    counts: { train: selection.train.length, validation: selection.validation.length, test: selection.test.length },
    storage: dataset.storage,
    skipped: dataset.skipped,
    ignored: dataset.ignored.length,
  };
}
