import type { ConcreteBackend } from './kernels/backend.js';
import type { TestMetrics } from './evaluate/metrics.js';

/** One epoch's row in metrics.jsonl. Epochs count continuously across stages. */
export interface EpochMetrics {
  stage: string;
  epoch: number;
  stageEpoch: number;
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
  /** The learning rate at the epoch's first step (the head's, when groups differ). */
  lr: number;
  /** Each parameter group's rate at the epoch's first step, when there are several. */
  learningRates?: Record<string, number>;
  seconds: number;
  /** tfjs tensors alive at the epoch's end; the same at every epoch of a stage, or something leaks. */
  tensors?: number;
  /** Taken from the stage cache: an earlier run trained this epoch with the same plan. */
  reused?: true;
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
  | { type: 'features-start'; split: string; total: number }
  | { type: 'features-progress'; split: string; done: number; total: number }
  | { type: 'features-end'; split: string; total: number; seconds: number; imagesPerSecond: number }
  | { type: 'features-reused'; split: string; total: number }
  | { type: 'stage-reused'; stage: string; epochs: number }
  | { type: 'stage-start'; stage: string; index: number; epochs: number; firstEpoch: number }
  | { type: 'batch-end'; stage: string; epoch: number; batch: number; batches: number; loss: number }
  | { type: 'epoch-end'; metrics: EpochMetrics }
  | { type: 'checkpoint'; stage: string; epoch: number; dir: string }
  | { type: 'stage-end'; stage: string; epochsRun: number; stoppedEarly: boolean; restoredEpoch?: number }
  | { type: 'evaluate-end'; test: TestMetrics }
  | { type: 'baseline-start'; epochs: number }
  | { type: 'baseline-epoch-end'; metrics: EpochMetrics }
  | { type: 'baseline-end'; test?: TestMetrics }
  | { type: 'export-end'; dir: string; verified: boolean; maxAbsDifference: number }
  | { type: 'log'; level: 'info' | 'warn'; message: string };

export type EventListener = (event: EngineEvent) => void;
