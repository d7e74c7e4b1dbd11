import * as tf from '@tensorflow/tfjs';
import { asTensor, type Compute, type Info, type Replacement } from './composed-kernel.js';

/**
 * Forward kernels the wasm backend runs as single-threaded loops or copies,
 * which dominate a fine-tuning step (`npm run bench:profile`). Each is
 * checked against the cpu backend on a table of shapes in the tests.
 */

/**
 * Identity as a shared buffer. The engine clones every tensor a gradient
 * will need (the tape's saved inputs and outputs) through Identity, and
 * wasm copies each one; no kernel writes into its inputs, so sharing is safe
 * (the cpu backend's Identity does the same).
 */
const identity: Compute = (inputs, _attrs, backend) => asTensor(backend, inputs['x']!);

/**
 * Batch normalisation as one multiply and one add per element, which wasm
 * runs through XNNPACK with broadcasting: y = x·s + (β − μ·s), with
 * s = γ/√(σ² + ε) computed once per channel. wasm's own kernel is a scalar
 * loop. Its gradient stays FusedBatchNorm's (the tape records this kernel).
 */
const fusedBatchNorm: Compute = (inputs, attrs, backend) => {
  const x = asTensor(backend, inputs['x']!);
  const mean = asTensor(backend, inputs['mean']!);
  const variance = asTensor(backend, inputs['variance']!);
  const rsqrt = tf.rsqrt(tf.add(variance, attrs['varianceEpsilon'] as number));
  const scale = inputs['scale'] ? tf.mul(asTensor(backend, inputs['scale']), rsqrt) : rsqrt;
  const shift = tf.sub(inputs['offset'] ? asTensor(backend, inputs['offset']) : tf.scalar(0), tf.mul(mean, scale));
  return tf.add(tf.mul(x, scale), shift);
};

/** Per-channel statistics (rank 1, as every Keras BatchNormalization has): what the composition covers. */
const perChannel = (inputs: Record<string, Info>): boolean =>
  inputs['x']!.dtype === 'float32' && ['mean', 'variance', 'scale', 'offset'].every((name) => !inputs[name] || inputs[name].shape.length === 1);

/** Axes a Reverse flips that have more than one element: flipping a size-1 axis changes nothing. */
function flippedAxes(inputs: Record<string, Info>, attrs: Record<string, unknown>): number[] {
  const x = inputs['x']!;
  const dims = attrs['dims'] as number | number[];
  return tf.util.parseAxisParam(dims, x.shape).filter((axis) => x.shape[axis]! > 1);
}

/** A Reverse over size-1 axes only (a 1×1 filter turned 180° in a convolution's gradient) is the identity. */
const reverseOfSizeOneAxes: Compute = (inputs, _attrs, backend) => asTensor(backend, inputs['x']!);

/** The axes a Sum reduces, sorted, non-negative. */
const sumAxes = (inputs: Record<string, Info>, attrs: Record<string, unknown>): number[] =>
  [...tf.util.parseAxisParam(attrs['axis'] as number | number[], inputs['x']!.shape)].sort((a, b) => a - b);

/**
 * Sums over leading axes as one average pooling of the whole [outer, inner]
 * plane, times its size; wasm runs the pooling through XNNPACK. Its own Sum
 * first transposes the reduced axes to the end (a full copy) and then loops:
 * 36 ms against 1.6 ms for a fresh [64, 24, 24, 64] over [0, 1, 2] (a
 * product with ones is no better: XNNPACK repacks its right operand, here
 * the whole tensor, at every call). Every bias and batch-norm gradient is
 * such a sum. A sum over axes of size 1 only is a reshape.
 */
const leadingSum: Compute = (inputs, attrs, backend) => {
  const x = asTensor(backend, inputs['x']!);
  const axes = sumAxes(inputs, attrs);
  const kept = x.shape.filter((_, i) => !axes.includes(i));
  const outShape = attrs['keepDims'] ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept;
  const outer = axes.reduce((n, a) => n * x.shape[a]!, 1);
  if (outer === 1) return tf.reshape(x, outShape);
  const inner = kept.reduce((n, d) => n * d, 1);
  const mean = tf.avgPool(tf.reshape(x, [1, outer, 1, inner]) as tf.Tensor4D, [outer, 1], 1, 'valid');
  return tf.reshape(tf.mul(mean, outer), outShape);
};

/** A float Sum whose reduced axes are the leading ones, or have size 1: what the matrix product covers. */
function leadingOrTrivial(inputs: Record<string, Info>, attrs: Record<string, unknown>): boolean {
  const x = inputs['x']!;
  if (x.dtype !== 'float32' || x.shape.some((d) => d === 0)) return false;
  const axes = sumAxes(inputs, attrs);
  const wide = axes.filter((a) => x.shape[a]! > 1);
  return wide.length === 0 || (wide.every((a, i) => a === i) && axes.every((a) => a < wide.length || x.shape[a] === 1) && wide.length < x.shape.length);
}

export const FORWARD_REPLACEMENTS: Replacement[] = [
  { kernelName: 'Sum', compute: leadingSum, covers: leadingOrTrivial },
  { kernelName: 'Identity', compute: identity, covers: (inputs) => inputs['x']!.dtype !== 'string' },
  { kernelName: 'FusedBatchNorm', compute: fusedBatchNorm, covers: perChannel },
  { kernelName: 'Reverse', compute: reverseOfSizeOneAxes, covers: (inputs, attrs) => inputs['x']!.dtype !== 'string' && flippedAxes(inputs, attrs).length === 0 },
];

type GradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => Record<string, () => tf.Tensor>;

/**
 * FusedBatchNorm's gradient on wasm without its waste. tfjs-core's tiles
 * 1/√(σ²+ε) to the whole of x before multiplying dy by it (a full-size copy
 * that wasm makes in a scalar loop; broadcasting multiplies the same
 * numbers), and computes x − μ and dy·γ for every call although only the
 * gradients asked for need them (a frozen layer's statistics never are).
 * Each gradient here computes what it needs when asked, with the same
 * operations as tfjs-core's. Elsewhere than wasm the original runs.
 */
export function batchNormGradient(original: tf.GradConfig): tf.GradConfig {
  const originalGrad = original.gradFunc as unknown as GradFunc;
  const gradFunc: GradFunc = (dy, saved, attrs) => {
    const [x, mean, variance, savedScale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    if (tf.getBackend() !== 'wasm' || mean.rank !== 1) return originalGrad(dy, saved, attrs);
    const g = dy as tf.Tensor;
    const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const scale = (): tf.Tensor => savedScale ?? tf.scalar(1);
    const rsqrt = (): tf.Tensor => tf.rsqrt(tf.add(variance, tf.scalar(attrs['varianceEpsilon'] as number)));
    const perChannel = (t: tf.Tensor): tf.Tensor => tf.reshape(tf.sum(t, axes), mean.shape);
    return {
      x: () => tf.reshape(tf.mul(tf.mul(g, rsqrt()), scale()), x.shape),
      mean: () => perChannel(tf.mul(tf.mul(rsqrt(), tf.scalar(-1)), tf.mul(g, scale()))),
      variance: () => {
        const r = rsqrt();
        const minusHalfRCube = tf.mul(tf.mul(tf.mul(r, r), r), tf.scalar(-0.5));
        return perChannel(tf.mul(tf.mul(minusHalfRCube, tf.sub(x, mean)), tf.mul(g, scale())));
      },
      scale: () => perChannel(tf.mul(g, tf.mul(tf.sub(x, mean), rsqrt()))),
      offset: () => perChannel(g),
    };
  };
  return { ...original, gradFunc: gradFunc as unknown as tf.GradConfig['gradFunc'] };
}

/**
 * ClipByValue's gradient (relu6's, in every MobileNet block) on wasm as
 * masks made by Step, which wasm runs as a plain fast loop, instead of
 * tfjs-core's greaterEqual, lessEqual, logicalAnd and where (boolean
 * kernels ten times slower there). The same mask: x ≥ min ⇔ ¬(min − x > 0),
 * x ≤ max ⇔ ¬(x − max > 0), both ends included as in tfjs-core.
 */
export function clipGradient(original: tf.GradConfig): tf.GradConfig {
  const originalGrad = original.gradFunc as unknown as GradFunc;
  const gradFunc: GradFunc = (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor];
    if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32') return originalGrad(dy, saved, attrs);
    const notAbove = (t: tf.Tensor): tf.Tensor => tf.sub(1, tf.step(t));
    return {
      x: () => tf.mul(dy as tf.Tensor, tf.mul(notAbove(tf.sub(attrs['clipValueMin'] as number, x)), notAbove(tf.sub(x, attrs['clipValueMax'] as number)))),
    };
  };
  return { ...original, gradFunc: gradFunc as unknown as tf.GradConfig['gradFunc'] };
}
