/**
 * Stratified, seeded k-fold assignment: which fold holds out each example.
 * Pure and synchronous so the plan (k-fold cross-validation) and the data
 * audit (out-of-fold predictions) split the same examples the same way.
 */
import { SeededRandom } from './seeded-random.js';

/**
 * The fold (0..k-1) of each example, given its class label.
 *
 * Each class's examples are shuffled with the seed, then dealt to the folds
 * in turn, the dealing carrying on from one class to the next: so every
 * fold holds each class's count divided by k, rounded down or up (within 1
 * of each other), and the folds' sizes are within 1 of each other too.
 * Classes are dealt in ascending label order, so the result depends on the
 * labels, k and the seed only — not on the order the classes first appear.
 */
export function stratifiedFolds(labels: readonly number[], k: number, seed: number): number[] {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`k-fold needs an integer k of at least 2, got ${k}`);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, index) => {
    const members = byClass.get(label);
    if (members) members.push(index);
    else byClass.set(label, [index]);
  });
  // A stream of its own: adding a draw anywhere else in a run never moves the folds.
  const random = new SeededRandom(seed).fork('stratified-folds');
  const folds = new Array<number>(labels.length).fill(0);
  let dealt = 0;
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    for (const index of random.shuffle(byClass.get(label)!)) folds[index] = dealt++ % k;
  }
  return folds;
}

/** The example indexes of each fold, ascending: `members[f]` are the indexes whose fold is f. */
export function foldMembers(folds: readonly number[], k: number): number[][] {
  const members = Array.from({ length: k }, () => [] as number[]);
  folds.forEach((fold, index) => members[fold]!.push(index));
  return members;
}

/** One fold's examples: what it trains on and validates on, drawn from the pool of train+validation. */
export interface FoldSelection {
  /** The pool, train then validation as the pipeline's own split selects them: the examples the folds divide (indexes into the data's training split). */
  pool: number[];
  /** The fold of each pool example (0..k-1), by position in `pool`. */
  folds: number[];
  /** Positions in `pool` of the examples this fold trains on, and validates on, ascending. */
  trainAt: number[];
  validationAt: number[];
  /** The same as indexes into the data's training split: the fold's selection. */
  train: number[];
  validation: number[];
}

/**
 * Fold `fold` (1..k) of the pipeline's train+validation examples: the pool
 * is divided into k stratified folds with the seed; this fold validates on
 * its own part and trains on the others'. The test split is not touched.
 */
export function foldSelection(
  split: { train: readonly number[]; validation: readonly number[] },
  labelOf: (index: number) => number,
  k: number,
  fold: number,
  seed: number,
): FoldSelection {
  if (!Number.isInteger(fold) || fold < 1 || fold > k) throw new RangeError(`fold ${fold} is not one of 1..${k}`);
  const pool = [...split.train, ...split.validation];
  const folds = stratifiedFolds(
    pool.map((index) => labelOf(index)),
    k,
    seed,
  );
  const trainAt: number[] = [];
  const validationAt: number[] = [];
  folds.forEach((f, at) => (f === fold - 1 ? validationAt : trainAt).push(at));
  return {
    pool,
    folds,
    trainAt,
    validationAt,
    train: trainAt.map((at) => pool[at]!),
    validation: validationAt.map((at) => pool[at]!),
  };
}

/**
 * What a task that trains or judges on one fold's examples adds to its
 * config, so its fingerprint (stage cache, resume) names the fold. The data
 * and features tasks do not: the pool they hold is every fold's, which is
 * what lets the folds share one extraction.
 */
export function foldConfig(spec: { evaluate: { folds?: number; fold?: number } }): {
  fold?: { k: number; index: number };
} {
  const { folds, fold } = spec.evaluate;
  return folds !== undefined && fold !== undefined ? { fold: { k: folds, index: fold } } : {};
}
