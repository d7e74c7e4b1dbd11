import type { NamedStrategy, StrategyChoices } from '../format/strategy.js';
import type { PipelineSpec } from '../format/types.js';
import type { StrategyMeasurement, StrategyProbe } from './types.js';

/** Fewer training examples per class than this is "small": too few to retrain the whole network without overfitting. */
export const SMALL_PER_CLASS = 300;
/** A lower cut whose probe beats the top cut by more than this means the data differs from what the base learned. */
export const DIFFERENT_MARGIN = 0.02;

/**
 * The textbook decision from two measurements: examples per class, and
 * whether a linear probe on lower-level features beats one on the top
 * features (then the base's high-level features do not fit this data).
 * `probes` lists the top cut first. Pure.
 */
export function decideStrategy(
  perClass: number,
  probes: { cut: string; accuracy: number }[],
): { chosen: NamedStrategy; cut: string; sentence: string } {
  const [top, ...lower] = probes;
  if (!top) throw new Error('no probes');
  const bestLower = lower.reduce<{ cut: string; accuracy: number } | undefined>(
    (best, p) => (!best || p.accuracy > best.accuracy ? p : best),
    undefined,
  );
  const small = perClass < SMALL_PER_CLASS;
  const different = bestLower !== undefined && bestLower.accuracy > top.accuracy + DIFFERENT_MARGIN;
  const chosen: NamedStrategy = small ? (different ? 'low-level' : 'head-only') : different ? 'all' : 'head-then-all';
  const cut = chosen === 'low-level' ? bestLower!.cut : top.cut;
  const size = `${Math.round(perClass)} images/class (${small ? 'small' : 'large'}: ${small ? '<' : '≥'} ${SMALL_PER_CLASS})`;
  const probeText = bestLower
    ? `probe accuracy ${bestLower.cut} ${bestLower.accuracy.toFixed(2)} vs ${top.cut} ${top.accuracy.toFixed(2)} (${different ? 'different from' : 'similar to'} what the base learned)`
    : `probe accuracy ${top.cut} ${top.accuracy.toFixed(2)}`;
  return { chosen, cut, sentence: `chose ${chosen}: ${size}; ${probeText}` };
}

/** What `strategy: auto` fills once measured: the chosen strategy's keys, and the cut (the file's own when it writes one). */
export interface ChosenKeys {
  strategy: NamedStrategy;
  cut: string;
  freeze: PipelineSpec['freeze'];
  stages: PipelineSpec['train']['stages'];
}

/**
 * `strategy: auto`'s decision from the probe: the measurement as the plan
 * and the run record keep it, and the spec with the chosen keys filled in
 * (picked from the choices the file was resolved with, format/resolve-pipeline). Pure.
 */
export function chooseStrategy(
  spec: PipelineSpec,
  choices: StrategyChoices,
  probe: StrategyProbe,
): { measurement: StrategyMeasurement; spec: PipelineSpec } {
  const measurement: StrategyMeasurement = { ...probe, ...decideStrategy(probe.perClass, probe.probes) };
  const cutFilled = spec.strategy?.filled.includes('base.cut') ?? false;
  const { freeze, stages } = choices[measurement.chosen];
  const keys: ChosenKeys = {
    strategy: measurement.chosen,
    cut: cutFilled ? measurement.cut : spec.base.cut,
    freeze,
    stages,
  };
  return { measurement, spec: withChosenKeys(spec, keys) };
}

/** The spec with auto's chosen keys filled in: the pipeline as it runs and as resolved.json records it. Pure. */
export function withChosenKeys(spec: PipelineSpec, keys: ChosenKeys): PipelineSpec {
  return {
    ...spec,
    base: { ...spec.base, cut: keys.cut },
    freeze: keys.freeze,
    train: { ...spec.train, stages: keys.stages },
    ...(spec.strategy ? { strategy: { ...spec.strategy, chosen: keys.strategy } } : {}),
  };
}
