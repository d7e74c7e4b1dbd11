import tf from '../tfjs.cjs';

/**
 * Deep CORAL (Sun & Saenko, 2016): the distance between the second-order
 * statistics of source and target features, ‖C_s − C_t‖²_F / (4 d²), with
 * C the unbiased covariance of a batch of d-dimensional feature rows. It is
 * zero when both batches have the same covariance, whatever their means.
 */

/** The unbiased covariance [d, d] of rows [n, d]; a batch of one has none to estimate, so it counts as n − 1 = 1. */
export function covariance(rows: tf.Tensor2D): tf.Tensor2D {
  const n = rows.shape[0];
  const centred = tf.sub(rows, tf.mean(rows, 0, true));
  return tf.div(tf.matMul(centred, centred, true, false), Math.max(n - 1, 1));
}

/** ‖C_s − C_t‖²_F / (4 d²) for source rows [n_s, d] and target rows [n_t, d]. */
export function coralLoss(source: tf.Tensor2D, target: tf.Tensor2D): tf.Scalar {
  const d = source.shape[1];
  return tf.div(tf.sum(tf.square(tf.sub(covariance(source), covariance(target)))), 4 * d * d);
}
