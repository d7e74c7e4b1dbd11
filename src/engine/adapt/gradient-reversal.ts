import tf from '../tfjs.cjs';

/**
 * The gradient-reversal layer of domain-adversarial training (Ganin et al.,
 * 2016): the identity going forward, −scale × the gradient going back. The
 * domain classifier above it learns to tell the domains apart while the
 * layers below it learn to make them indistinguishable.
 */
export function reverseGradient<T extends tf.Tensor>(x: T, scale: number): T {
  // customGrad passes the inputs and then its save function; the one input is a tensor.
  const reversal = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(inputs[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, -scale),
  }));
  return reversal(x) as T;
}

/**
 * The reversed gradient's scale at `progress` (0 → 1) through training:
 * weight × (2 / (1 + e^(−10 p)) − 1), from 0 at the start to nearly
 * `weight` at the end, so the classifier's early noise does not disturb
 * the features (Ganin et al., 2016, §5.2.2).
 */
export function reversalScale(weight: number, progress: number): number {
  return weight * (2 / (1 + Math.exp(-10 * progress)) - 1);
}
