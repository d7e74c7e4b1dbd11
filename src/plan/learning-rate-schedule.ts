import type { ScheduleSpec } from '../format/types.js';

/**
 * The learning rate at epoch position `t` of a stage of `epochs` epochs,
 * for a peak rate `peak`. `t` runs from 0 (the stage's first step) towards
 * `epochs` (after its last step); within an epoch it moves by 1/batches per
 * step, so warmup and one-cycle change smoothly, as they do per step in
 * PyTorch and fastai. Pure, so schedules are tested as tables.
 */
export function learningRateAt(schedule: ScheduleSpec, peak: number, t: number, epochs: number): number {
  switch (schedule.type) {
    case 'constant':
      return peak;
    case 'step':
      // Drops happen at epoch boundaries, as Keras' and PyTorch's StepLR.
      return peak * schedule.factor ** Math.floor(t / schedule.everyEpochs + 1e-9);
    case 'exponential':
      return peak * schedule.factor ** t;
    case 'cosine': {
      const { warmupEpochs, minLearningRate } = schedule;
      if (t < warmupEpochs) return (peak * t) / warmupEpochs;
      const span = epochs - warmupEpochs;
      const progress = span > 0 ? Math.min(1, (t - warmupEpochs) / span) : 1;
      return minLearningRate + ((peak - minLearningRate) * (1 + Math.cos(Math.PI * progress))) / 2;
    }
    case 'oneCycle': {
      // PyTorch's OneCycleLR with cosine annealing: up from peak/div, then down to peak/(div·finalDiv).
      const start = peak / schedule.divFactor;
      const end = start / schedule.finalDivFactor;
      const rise = schedule.warmupFraction * epochs;
      if (t < rise) return cosineBetween(start, peak, t / rise);
      return cosineBetween(peak, end, Math.min(1, (t - rise) / (epochs - rise)));
    }
  }
}

/** From `from` (progress 0) to `to` (progress 1) along half a cosine. */
function cosineBetween(from: number, to: number, progress: number): number {
  return to + ((from - to) * (1 + Math.cos(Math.PI * progress))) / 2;
}

/** The schedule in words, for `tlpipe plan`. */
export function describeSchedule(schedule: ScheduleSpec): string {
  switch (schedule.type) {
    case 'constant':
      return 'constant';
    case 'step':
      return `×${schedule.factor} every ${schedule.everyEpochs} epoch(s)`;
    case 'exponential':
      return `×${schedule.factor} per epoch`;
    case 'cosine':
      return `cosine to ${schedule.minLearningRate}${schedule.warmupEpochs > 0 ? ` after ${schedule.warmupEpochs} warmup epoch(s)` : ''}`;
    case 'oneCycle':
      return `one-cycle (rise ${schedule.warmupFraction}, ÷${schedule.divFactor} start, ÷${schedule.finalDivFactor} end)`;
  }
}
