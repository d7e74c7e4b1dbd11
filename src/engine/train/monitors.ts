import type { EarlyStoppingSpec, MonitorSpec, PlateauSpec } from '../../format/types.js';
import type { EpochMetrics } from '../events.js';

/**
 * The epoch-end callbacks as pure state machines over plain JSON state, so
 * that a checkpoint can hold their counters and a resumed run continues
 * them. Semantics follow Keras' EarlyStopping and ReduceLROnPlateau.
 */

/** The best value seen so far (null before the first epoch) and epochs since it. */
export interface MonitorState {
  best: number | null;
  bestEpoch: number;
  wait: number;
}

export interface PlateauState extends MonitorState {
  /** Epochs left before reductions may happen again. */
  cooldown: number;
  /** The product of all reductions so far, applied on top of the schedule. */
  scale: number;
}

export const INITIAL_MONITOR: MonitorState = { best: null, bestEpoch: 0, wait: 0 };
export const INITIAL_PLATEAU: PlateauState = { ...INITIAL_MONITOR, cooldown: 0, scale: 1 };

/** The monitored value of an epoch; the spec rules guarantee validation metrics exist when watched. */
export function monitoredValue(monitor: MonitorSpec['monitor'], metrics: EpochMetrics): number {
  const value = metrics[monitor];
  if (value === undefined) throw new Error(`the metric ${monitor} was not computed`);
  return value;
}

/** Better than `best` by more than `minDelta` in the monitor's direction (the first value always is). */
export function isImprovement(
  mode: MonitorSpec['mode'],
  minDelta: number,
  value: number,
  best: number | null,
): boolean {
  if (best === null) return Number.isFinite(value);
  return mode === 'min' ? value < best - minDelta : value > best + minDelta;
}

/** After an epoch: did it improve, and has patience run out? */
export function observeEarlyStopping(
  spec: EarlyStoppingSpec,
  state: MonitorState,
  epoch: number,
  value: number,
): { state: MonitorState; improved: boolean; stop: boolean } {
  const improved = isImprovement(spec.mode, spec.minDelta, value, state.best);
  const next = improved ? { best: value, bestEpoch: epoch, wait: 0 } : { ...state, wait: state.wait + 1 };
  return { state: next, improved, stop: !improved && next.wait >= spec.patience };
}

/** After an epoch: a new best resets the count; `patience` epochs without one reduce the rate by `factor`. */
export function observePlateau(
  spec: PlateauSpec,
  state: PlateauState,
  epoch: number,
  value: number,
): { state: PlateauState; reduced: boolean } {
  const inCooldown = state.cooldown > 0;
  let next: PlateauState = { ...state, cooldown: Math.max(0, state.cooldown - 1), wait: inCooldown ? 0 : state.wait };
  if (isImprovement(spec.mode, spec.minDelta, value, state.best))
    return { state: { ...next, best: value, bestEpoch: epoch, wait: 0 }, reduced: false };
  if (inCooldown) return { state: next, reduced: false };
  next = { ...next, wait: next.wait + 1 };
  if (next.wait < spec.patience) return { state: next, reduced: false };
  return { state: { ...next, wait: 0, cooldown: spec.cooldown, scale: next.scale * spec.factor }, reduced: true };
}
