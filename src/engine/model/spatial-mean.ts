import tf from '../tfjs.cjs';

/**
 * A feature map [batch, …spatial, channels] averaged over its spatial axes
 * to [batch, channels] (global average pooling); rows [batch, channels]
 * stay as they are. How the strategy probe, the domain-shift measurement
 * and CORAL/DANN read a base's output.
 */
export function spatialMean(features: tf.Tensor): tf.Tensor2D {
  if (features.rank === 2) return features as tf.Tensor2D;
  const axes = Array.from({ length: features.rank - 2 }, (_, i) => i + 1);
  return tf.mean(features, axes) as tf.Tensor2D;
}
