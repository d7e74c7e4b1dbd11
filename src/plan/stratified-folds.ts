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
