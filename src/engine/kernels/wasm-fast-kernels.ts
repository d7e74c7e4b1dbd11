import tf from '../tfjs.cjs';
import { asTensor, nativeKernel, type Compute, type Info, type Replacement } from './composed-kernel.js';

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
  inputs['x']!.dtype === 'float32' &&
  ['mean', 'variance', 'scale', 'offset'].every((name) => !inputs[name] || inputs[name].shape.length === 1);

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

/** A float Sum whose reduced axes are the leading ones, or have size 1: what the pooling covers. */
function leadingOrTrivial(inputs: Record<string, Info>, attrs: Record<string, unknown>): boolean {
  const x = inputs['x']!;
  if (x.dtype !== 'float32' || x.shape.some((d) => d === 0)) return false;
  const axes = sumAxes(inputs, attrs);
  const wide = axes.filter((a) => x.shape[a]! > 1);
  return (
    wide.length === 0 ||
    (wide.every((a, i) => a === i) &&
      axes.every((a) => a < wide.length || x.shape[a] === 1) &&
      wide.length < x.shape.length)
  );
}

/** Tensors that have been a product's plain right operand: one seen twice is likely a layer's fixed weights, worth packing once. */
const seenRightOperands = new WeakSet<object>();
/** Packing an operand for XNNPACK costs about this many plain copies of it (a fresh 5408×256 weight: ~14 ms to pack, ~1.8 ms to transpose). */
const PACKING_COST = 8;

/**
 * A matrix product as wasm's XNNPACK path runs it fastest. That path takes
 * only plain operands (transposed ones fall to a scalar loop: 216 ms against
 * 6 ms for a 9216×64·64×128 weight gradient), and it packs its right operand
 * into a copy of its own, kept for the next product with the same tensor.
 * In training a layer's weights are new at every step, so the packing is
 * paid each time: 18 ms of a dense layer's 5408×256 forward product at
 * batch 32, which takes 4 ms with the packing kept. So: operands are
 * transposed first where asked, and where packing the right operand would
 * cost more than packing the left, the product is taken the other way round,
 * C = (Bᵀ·Aᵀ)ᵀ, which packs the small activations instead of the weights
 * (6 ms). Both give the same bits (XNNPACK sums each element over the shared
 * axis in the same order). Batched products keep wasm's kernel, transposed
 * operands aside.
 */
const matMul: Compute = (inputs, attrs, backend) => {
  const [transposeA, transposeB] = [attrs['transposeA'] === true, attrs['transposeB'] === true];
  const swapLast = (x: tf.Tensor): tf.Tensor =>
    tf.transpose(
      x,
      [...x.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : i === all.length - 2 ? i + 1 : i - 1)),
    );
  const a = asTensor(backend, inputs['a']!);
  const b = asTensor(backend, inputs['b']!);
  const plain = (left: tf.Tensor, right: tf.Tensor): tf.Tensor =>
    nativeKernel('BatchMatMul', { a: left, b: right }, { transposeA: false, transposeB: false }, backend);
  if (!isSingleProduct(inputs)) return plain(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b);
  const [m, k] = transposeA ? [a.shape.at(-1)!, a.shape.at(-2)!] : [a.shape.at(-2)!, a.shape.at(-1)!];
  const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
  const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n];
  const left = tf.reshape(a, transposeA ? [k, m] : [m, k]);
  const right = tf.reshape(b, transposeB ? [n, k] : [k, n]);
  const packing = (operand: tf.Tensor, transposed: boolean): number =>
    !transposed && seenRightOperands.has(operand.dataId) ? 0 : PACKING_COST * operand.size;
  const direct = (transposeA ? left.size : 0) + (transposeB ? right.size : 0) + packing(right, transposeB);
  const swapped = (transposeA ? 0 : left.size) + (transposeB ? 0 : right.size) + m * n + packing(left, !transposeA);
  if (!transposeB) seenRightOperands.add(b.dataId);
  const product =
    direct <= swapped
      ? plain(transposeA ? tf.transpose(left) : left, transposeB ? tf.transpose(right) : right)
      : tf.transpose(plain(transposeB ? right : tf.transpose(right), transposeA ? left : tf.transpose(left)));
  return tf.reshape(product, outShape);
};

/** A float product of two matrices (any leading axes of size 1): what the swap covers. */
const isSingleProduct = (inputs: Record<string, Info>): boolean =>
  [inputs['a']!, inputs['b']!].every((x) => x.shape.length >= 2 && x.shape.slice(0, -2).every((d) => d === 1));

/** Products the composition improves: single ones, and batched ones with a transposed operand. */
const productCovered = (inputs: Record<string, Info>, attrs: Record<string, unknown>): boolean =>
  inputs['a']!.dtype === 'float32' &&
  inputs['b']!.dtype === 'float32' &&
  (isSingleProduct(inputs) || attrs['transposeA'] === true || attrs['transposeB'] === true);

export const FORWARD_REPLACEMENTS: Replacement[] = [
  { kernelName: 'BatchMatMul', compute: matMul, covers: productCovered },
  { kernelName: 'Sum', compute: leadingSum, covers: leadingOrTrivial },
  { kernelName: 'Identity', compute: identity, covers: (inputs) => inputs['x']!.dtype !== 'string' },
  { kernelName: 'FusedBatchNorm', compute: fusedBatchNorm, covers: perChannel },
  {
    kernelName: 'Reverse',
    compute: reverseOfSizeOneAxes,
    covers: (inputs, attrs) => inputs['x']!.dtype !== 'string' && flippedAxes(inputs, attrs).length === 0,
  },
];

type GradFunc = (
  dy: tf.Tensor | tf.Tensor[],
  saved: tf.Tensor[],
  attrs: tf.NamedAttrMap,
) => Record<string, () => tf.Tensor>;

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
      x: () =>
        tf.mul(
          dy as tf.Tensor,
          tf.mul(
            notAbove(tf.sub(attrs['clipValueMin'] as number, x)),
            notAbove(tf.sub(x, attrs['clipValueMax'] as number)),
          ),
        ),
    };
  };
  return { ...original, gradFunc: gradFunc as unknown as tf.GradConfig['gradFunc'] };
}
