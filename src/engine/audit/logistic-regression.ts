import tf from '../tfjs.cjs';
import { foldMembers, stratifiedFolds } from '../../plan/stratified-folds.js';

/** Feature rows: `count` rows of `width` values each, row-major. */
export interface Rows {
  data: Float32Array;
  count: number;
  width: number;
}

/** How the audit's simple classifier trains: full-batch Adam on the softmax cross-entropy with an L2 penalty. */
export interface FitOptions {
  steps: number;
  learningRate: number;
  l2: number;
  seed: number;
}

/** Measured on MNIST digits at block_2_add features: fewer steps or a weaker penalty leave more confident mistakes, i.e. false label flags. */
export const FIT_DEFAULTS: FitOptions = { steps: 150, learningRate: 0.05, l2: 0.01, seed: 1 };

/**
 * Multinomial logistic regression on standardised features: simple and
 * convex, so its out-of-fold probabilities reflect the data rather than a
 * network's capacity to memorise it (what confident learning needs).
 * Standardised with the training rows' mean and deviation only.
 */
export function fitPredict(
  train: Rows,
  labels: ArrayLike<number>,
  classes: number,
  test: Rows,
  options: FitOptions = FIT_DEFAULTS,
): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor2d(train.data, [train.count, train.width]);
    const { mean, variance } = tf.moments(x, 0);
    const scale = tf.sqrt(variance).add(1e-6);
    const xs = x.sub(mean).div(scale);
    const ys = tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), classes).toFloat();
    const w = tf.variable(tf.randomNormal([train.width, classes], 0, 0.01, 'float32', options.seed));
    const b = tf.variable(tf.zeros([classes]));
    const optimizer = tf.train.adam(options.learningRate);
    for (let step = 0; step < options.steps; step++)
      optimizer.minimize(() => {
        const loss = tf.losses.softmaxCrossEntropy(ys, xs.matMul(w).add(b));
        return loss.add(w.square().sum().mul(options.l2));
      });
    const tx = tf.tensor2d(test.data, [test.count, test.width]).sub(mean).div(scale);
    const p = tf.softmax(tx.matMul(w).add(b)).dataSync() as Float32Array;
    optimizer.dispose();
    w.dispose();
    b.dispose();
    return p;
  });
}

/**
 * Each example's predicted probabilities from a classifier that did not
 * train on it: k stratified seeded folds, each predicted by the classifier
 * fitted on the others. Rows of `classes` values, in the rows' order.
 */
export function outOfFold(
  rows: Rows,
  labels: ArrayLike<number>,
  classes: number,
  folds: number,
  options: FitOptions = FIT_DEFAULTS,
): Float32Array[] {
  const fold = stratifiedFolds(Array.from(labels), folds, options.seed);
  const out = new Array<Float32Array>(rows.count);
  for (const held of foldMembers(fold, folds)) {
    if (held.length === 0) continue;
    const heldSet = new Set(held);
    const kept = Array.from({ length: rows.count }, (_, i) => i).filter((i) => !heldSet.has(i));
    const p = fitPredict(
      pick(rows, kept),
      kept.map((i) => labels[i]!),
      classes,
      pick(rows, held),
      options,
    );
    held.forEach((i, r) => (out[i] = p.slice(r * classes, (r + 1) * classes)));
  }
  return out;
}

/** The rows at `indexes`, copied. */
export function pick(rows: Rows, indexes: readonly number[]): Rows {
  const data = new Float32Array(indexes.length * rows.width);
  indexes.forEach((i, r) => data.set(rows.data.subarray(i * rows.width, (i + 1) * rows.width), r * rows.width));
  return { data, count: indexes.length, width: rows.width };
}
