import tf from '../tfjs.cjs';
import type { Rows } from './logistic-regression.js';

/** Neighbours that vote, and rows compared at a time (a chunk's similarities to every row are held at once). */
export const VOTE_DEFAULTS = { neighbours: 10, chunk: 256 } as const;

/**
 * Each example's class probabilities from a vote of its nearest other
 * examples (cosine similarity of standardised features), smoothed so no
 * class is exactly 0. Leave-one-out: an example never votes for itself.
 * Why beside the regression: a flipped label pulls the regression's
 * boundary towards itself, but its neighbours still carry their own
 * (mostly right) labels, so averaging the two lifts a flipped example's
 * true class above the confident threshold more often (measured on planted
 * MNIST flips; see confident-learning.ts).
 */
export function nearestVote(
  rows: Rows,
  labels: ArrayLike<number>,
  classes: number,
  neighbours: number = VOTE_DEFAULTS.neighbours,
): Float32Array[] {
  const k = Math.min(neighbours, rows.count - 1);
  const out: Float32Array[] = [];
  if (k < 1) return Array.from({ length: rows.count }, () => new Float32Array(classes).fill(1 / classes));
  const unit = tf.tidy(() => {
    const x = tf.tensor2d(rows.data, [rows.count, rows.width]);
    const { mean, variance } = tf.moments(x, 0);
    const z = x.sub(mean).div(tf.sqrt(variance).add(1e-6));
    return z.div(z.norm('euclidean', 1, true).add(1e-12)) as tf.Tensor2D;
  });
  for (let start = 0; start < rows.count; start += VOTE_DEFAULTS.chunk) {
    const size = Math.min(VOTE_DEFAULTS.chunk, rows.count - start);
    const indexes = tf.tidy(() => {
      const chunk = unit.slice([start, 0], [size, rows.width]);
      // The example itself is its own most similar row: ask for one more and drop it.
      return tf.topk(chunk.matMul(unit, false, true), k + 1).indices.arraySync() as number[][];
    });
    indexes.forEach((near, r) => {
      const votes = new Float32Array(classes).fill(SMOOTHING / classes);
      const self = start + r;
      let counted = 0;
      for (const j of near) {
        if (j === self || counted === k) continue;
        votes[labels[j]!]! += 1;
        counted++;
      }
      out.push(votes.map((v) => v / (counted + SMOOTHING)));
    });
  }
  unit.dispose();
  return out;
}

/** Half a vote spread over the classes: a class no neighbour holds keeps a small probability. */
const SMOOTHING = 0.5;

/** `weight` of `a` plus the rest of `b`, row by row. */
export function blend(a: readonly Float32Array[], b: readonly Float32Array[], weight: number): Float32Array[] {
  return a.map((row, i) => row.map((v, j) => weight * v + (1 - weight) * b[i]![j]!));
}
