import type * as tf from '@tensorflow/tfjs';

/**
 * Whether `reloaded` is `model` again: the same layers in the same order,
 * each with the same configuration, and every weight of the same name,
 * shape and dtype holding the same bytes. Two such models compute the same
 * function with the same kernels, so they predict the same, bit for bit.
 */
export function sameModel(model: tf.LayersModel, reloaded: tf.LayersModel): boolean {
  if (JSON.stringify(model.toJSON(null, false)) !== JSON.stringify(reloaded.toJSON(null, false))) return false;
  const [ours, theirs] = [model.weights, reloaded.weights];
  if (ours.length !== theirs.length) return false;
  return ours.every((weight, i) => {
    const other = theirs[i]!;
    if (weight.originalName !== other.originalName || weight.dtype !== other.dtype) return false;
    if (weight.shape.length !== other.shape.length || weight.shape.some((d, k) => d !== other.shape[k])) return false;
    return sameBytes(weight.read().dataSync(), other.read().dataSync());
  });
}

/** Equal bit for bit (NaN payloads and ±0 included), not equal as numbers. */
function sameBytes(a: tf.TypedArray | string[], b: tf.TypedArray | string[]): boolean {
  if (Array.isArray(a) || Array.isArray(b)) return JSON.stringify(a) === JSON.stringify(b);
  if (a.byteLength !== b.byteLength) return false;
  const [x, y] = [
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
  ];
  return Buffer.compare(x, y) === 0;
}
