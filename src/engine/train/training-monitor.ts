import type { EpochMetrics } from '../events.js';
import type { EpochEnd, StageState } from './train-stage.js';

/** A batch after its update. */
export interface BatchEnd {
  epoch: number;
  /** From 1. */
  batch: number;
  batches: number;
  loss: number;
}

/**
 * What the monitors make of an epoch, each in turn from what the ones before
 * it left: their counters in `state`, whether the stage ends, whether this
 * epoch's weights are the stage's best.
 */
export interface EpochVerdict {
  metrics: EpochMetrics;
  /** The stage's state with this epoch counted; `done` and `stoppedEarly` are settled after every monitor has spoken. */
  state: StageState;
  /** A monitor ends the stage after this epoch. */
  stop: boolean;
  /** Early stopping's monitored value improved on its best. */
  improved: boolean;
  /** This epoch's weights were kept as the stage's best, for early stopping to restore. */
  stageBest: boolean;
}

/**
 * One concern of a training stage, as a tfjs-layers callback is: the loop
 * calls each hook of every monitor in list order, so a monitor reads what
 * the ones before it decided. Counters live in the stage state (a
 * checkpoint holds them); tensors a monitor keeps are freed in `dispose`.
 */
export interface TrainingMonitor {
  /** After each batch's update; throwing ends the stage. */
  onBatchEnd?(batch: BatchEnd): void;
  /** After an epoch's metrics are complete: this monitor's part of the verdict. */
  onEpochEnd?(verdict: EpochVerdict): EpochVerdict;
  /** After the epoch's state is settled: report it, save it. */
  onEpochSettled?(end: EpochEnd): Promise<void> | void;
  /** After the stage's last epoch: the epoch whose weights this monitor put back, if it did. */
  onStageEnd?(state: StageState): number | undefined;
  /** When the stage ends, normally or not. */
  dispose?(): void;
}

/** The monitors of one stage, called in order (tfjs-layers' CallbackList). */
export class MonitorList {
  constructor(private readonly monitors: readonly TrainingMonitor[]) {}

  batchEnd(batch: BatchEnd): void {
    for (const monitor of this.monitors) monitor.onBatchEnd?.(batch);
  }

  epochEnd(verdict: EpochVerdict): EpochVerdict {
    return this.monitors.reduce((current, monitor) => monitor.onEpochEnd?.(current) ?? current, verdict);
  }

  async epochSettled(end: EpochEnd): Promise<void> {
    for (const monitor of this.monitors) await monitor.onEpochSettled?.(end);
  }

  /** The epoch whose weights the stage ends with, when a monitor restored an earlier one. */
  stageEnd(state: StageState): number | undefined {
    let restored: number | undefined;
    for (const monitor of this.monitors) restored = monitor.onStageEnd?.(state) ?? restored;
    return restored;
  }

  dispose(): void {
    for (const monitor of this.monitors) monitor.dispose?.();
  }
}
