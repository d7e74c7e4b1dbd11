/**
 * Temperature scaling (Guo et al., 2017): one number T that divides the
 * logits before the softmax, fitted on the validation split by minimising
 * the negative log-likelihood. It changes no prediction (argmax is the same
 * for every T > 0), only how sure the probabilities say the model is.
 */

/**
 * Probabilities below this are taken as this before their logarithm: a
 * float32 softmax rounds a very unlikely class to 0, whose logarithm is −∞.
 * It is float32's smallest normal number, so only outputs float32 could not
 * tell apart from 0 are moved.
 */
export const SMALLEST_PROBABILITY = 1.1754943508222875e-38;

/** The search range of T: below 0.05 or above 20 a model's probabilities say nothing a user could use. */
export const TEMPERATURE_RANGE = { min: 0.05, max: 20 } as const;

/**
 * A row of probabilities with temperature `temperature`: softmax(log(p) / T).
 * The log-probabilities differ from the logits by a constant per row, which
 * softmax ignores, so this equals softmax(logits / T) whether the model ends
 * in softmax or is linear. Computed with the largest term taken out (no overflow).
 */
export function withTemperature(probabilities: readonly number[], temperature: number): number[] {
  const scaled = probabilities.map((p) => Math.log(Math.max(p, SMALLEST_PROBABILITY)) / temperature);
  const largest = Math.max(...scaled);
  const exps = scaled.map((s) => Math.exp(s - largest));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** The mean negative log-likelihood of the true classes under `probabilities`, each clamped as withTemperature clamps it. */
export function meanNll(actual: readonly number[], probabilities: readonly (readonly number[])[]): number {
  if (actual.length === 0) return 0;
  const sum = actual.reduce(
    (total, a, i) => total - Math.log(Math.max(probabilities[i]![a]!, SMALLEST_PROBABILITY)),
    0,
  );
  return sum / actual.length;
}

/** The mean NLL of the true classes at temperature T. */
export const nllAtTemperature = (
  actual: readonly number[],
  probabilities: readonly (readonly number[])[],
  temperature: number,
): number =>
  meanNll(
    actual,
    probabilities.map((p) => withTemperature(p, temperature)),
  );

const GOLDEN = (Math.sqrt(5) - 1) / 2;
/** Golden-section steps: each keeps 0.618 of the interval, so 60 narrow log(400) to about 1e-12. */
const SEARCH_STEPS = 60;

export interface FittedTemperature {
  temperature: number;
  /** The validation split's mean NLL at T = 1 and at the fitted T. */
  nllBefore: number;
  nllAfter: number;
}

/**
 * The temperature that minimises the validation NLL, by golden-section
 * search on log T over TEMPERATURE_RANGE: the NLL is convex in 1/T, so it
 * has one minimum along log T, and the search is deterministic. When T = 1
 * is at least as good as the minimum found (to rounding), T = 1 is kept: no
 * change without evidence for it.
 */
export function fitTemperature(
  actual: readonly number[],
  probabilities: readonly (readonly number[])[],
): FittedTemperature {
  const nll = (logT: number) => nllAtTemperature(actual, probabilities, Math.exp(logT));
  let lo = Math.log(TEMPERATURE_RANGE.min);
  let hi = Math.log(TEMPERATURE_RANGE.max);
  let x1 = hi - GOLDEN * (hi - lo);
  let x2 = lo + GOLDEN * (hi - lo);
  let f1 = nll(x1);
  let f2 = nll(x2);
  for (let step = 0; step < SEARCH_STEPS; step++) {
    if (f1 <= f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - GOLDEN * (hi - lo);
      f1 = nll(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + GOLDEN * (hi - lo);
      f2 = nll(x2);
    }
  }
  const found = (lo + hi) / 2;
  const nllBefore = nll(0);
  const nllFound = nll(found);
  return nllFound < nllBefore - 1e-12
    ? { temperature: Math.exp(found), nllBefore, nllAfter: nllFound }
    : { temperature: 1, nllBefore, nllAfter: nllBefore };
}
