import * as tf from '@tensorflow/tfjs';

/**
 * The wasm backend has no kernels for three convolution gradients, so it
 * cannot train a conv layer (fine-tuning a base), and its fourth is a slow
 * loop. These compose them from kernels wasm runs fast — convolution,
 * transpose, pad, strided slice, matMul — and are checked numerically
 * against the cpu backend's kernels in the tests. NHWC only, as every
 * model tlpipe builds.
 */

type Info = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(info: Info): Float32Array;
}

/**
 * A kernel's input as a tensor of its own (a copy): wrapping the input's
 * data id instead would let disposing the wrapper free data the engine
 * still holds for the other gradient.
 */
function asTensor<R extends tf.Rank>(backend: unknown, info: Info): tf.Tensor<R> {
  return tf.tensor((backend as WasmBackendLike).typedArrayFromHeap(info).slice(), info.shape as number[], 'float32') as unknown as tf.Tensor<R>;
}

type Compute = (inputs: Record<string, Info>, attrs: Record<string, unknown>, backend: unknown) => tf.Tensor;

/**
 * A kernel computed with ops. The result is copied into a fresh output of
 * the kernel, so the engine owns it alone, and every intermediate is freed.
 */
function composed(compute: Compute): tf.KernelFunc {
  return (({ inputs, attrs, backend }: { inputs: Record<string, Info>; attrs?: Record<string, unknown>; backend: unknown }) => {
    const result = tf.tidy(() => compute(inputs, attrs ?? {}, backend));
    const out = (backend as WasmBackendLike).makeOutput(result.shape, 'float32');
    (backend as WasmBackendLike).typedArrayFromHeap(out).set(result.dataSync() as Float32Array);
    result.dispose();
    return out;
  }) as unknown as tf.KernelFunc;
}

/** x padded as the forward convolution saw it, large enough for every window. */
function paddedInput(x: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { top, left } = info.padInfo;
  const neededH = (info.outHeight - 1) * info.strideHeight + (info.filterHeight - 1) * info.dilationHeight + 1;
  const neededW = (info.outWidth - 1) * info.strideWidth + (info.filterWidth - 1) * info.dilationWidth + 1;
  const bottom = Math.max(0, neededH - top - info.inHeight);
  const right = Math.max(0, neededW - left - info.inWidth);
  return tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]);
}

/** The input values one filter tap (kh, kw) met at every output position: [batch, outH, outW, inC]. */
function tapWindow(xPadded: tf.Tensor4D, info: Conv2DInfo, kh: number, kw: number): tf.Tensor4D {
  const h0 = kh * info.dilationHeight;
  const w0 = kw * info.dilationWidth;
  return tf.stridedSlice(
    xPadded,
    [0, h0, w0, 0],
    [info.batchSize, h0 + (info.outHeight - 1) * info.strideHeight + 1, w0 + (info.outWidth - 1) * info.strideWidth + 1, info.inChannels],
    [1, info.strideHeight, info.strideWidth, 1],
  ) as tf.Tensor4D;
}

function convInfo(xShape: number[], filterShape: number[], attrs: Record<string, unknown>, depthwise: boolean): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs['strides'] as [number, number],
    (attrs['dilations'] as [number, number] | undefined) ?? 1,
    attrs['pad'] as 'same',
    attrs['dimRoundingMode'] as 'round' | undefined,
    depthwise,
    'channelsLast',
  );
}

/**
 * dW[kh, kw, ci, co] = Σ x(window of tap kh,kw)[·, ci] · dy[·, co]. Without
 * dilation this is itself a convolution, which wasm runs fast (XNNPACK):
 * the input with batch and channels swapped, filtered by dy (batch as its
 * input channels), dilated by the stride. Otherwise one matMul per tap.
 */
const conv2DBackpropFilter: Compute = (inputs, a, backend) => {
  const filterShape = a['filterShape'] as number[];
  const info = convInfo(inputs['x']!.shape, filterShape, a, false);
  const x = paddedInput(asTensor<tf.Rank.R4>(backend, inputs['x']!), info);
  if (info.dilationHeight === 1 && info.dilationWidth === 1 && info.filterHeight * info.filterWidth > 1) {
    // x' [ci, H, W, b] ⊛ dy' [oh, ow, b, co], dilated by the stride, valid → [ci, kh, kw, co]; cropped, since x may be padded beyond need.
    const xT = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D;
    const dyT = tf.transpose(asTensor<tf.Rank.R4>(backend, inputs['dy']!), [1, 2, 0, 3]) as tf.Tensor4D;
    const full = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    return tf.transpose(tf.slice(full, [0, 0, 0, 0], [info.inChannels, info.filterHeight, info.filterWidth, info.outChannels]), [1, 2, 0, 3]);
  }
  const rows = info.batchSize * info.outHeight * info.outWidth;
  const dy = tf.reshape(asTensor(backend, inputs['dy']!), [rows, info.outChannels]);
  const taps: tf.Tensor[] = [];
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) {
      taps.push(tf.matMul(tf.reshape(tapWindow(x, info, kh, kw), [rows, info.inChannels]), dy, true, false));
    }
  }
  return tf.reshape(tf.stack(taps), filterShape);
};

/** dW[kh, kw, c, m] = Σ x(window)[·, c] · dy[·, c·M + m]. */
const depthwiseBackpropFilter: Compute = (inputs, a, backend) => {
  const filterShape = a['filterShape'] as number[];
  const info = convInfo(inputs['x']!.shape, filterShape, a, true);
  const multiplier = filterShape[3]!;
  const x = paddedInput(asTensor<tf.Rank.R4>(backend, inputs['x']!), info);
  const dy = tf.reshape(asTensor(backend, inputs['dy']!), [info.batchSize, info.outHeight, info.outWidth, info.inChannels, multiplier]);
  const taps: tf.Tensor[] = [];
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) {
      const window = tf.expandDims(tapWindow(x, info, kh, kw), 4);
      taps.push(tf.sum(tf.mul(window, dy), [0, 1, 2]));
    }
  }
  return tf.reshape(tf.stack(taps), filterShape);
};

/**
 * dx: every output gradient flows back to the input pixel each tap read.
 * Per tap: scale dy by the tap's weights, spread it out to the stride
 * (zeros between), shift it to where the tap reads, and add it up.
 */
const depthwiseBackpropInput: Compute = (inputs, a, backend) => {
  const inputShape = a['inputShape'] as [number, number, number, number];
  const filterShape = inputs['filter']!.shape as [number, number, number, number];
  const info = convInfo(inputShape, filterShape, a, true);
  const multiplier = filterShape[3]!;
  const { strideHeight: sh, strideWidth: sw } = info;
  const canvasH = Math.max(info.padInfo.top + info.inHeight, (info.filterHeight - 1) * info.dilationHeight + info.outHeight * sh);
  const canvasW = Math.max(info.padInfo.left + info.inWidth, (info.filterWidth - 1) * info.dilationWidth + info.outWidth * sw);
  const dy = tf.reshape(asTensor(backend, inputs['dy']!), [info.batchSize, info.outHeight, info.outWidth, info.inChannels, multiplier]);
  const filter = asTensor<tf.Rank.R4>(backend, inputs['filter']!);
  let canvas: tf.Tensor4D = tf.zeros([info.batchSize, canvasH, canvasW, info.inChannels]);
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) {
      const weights = tf.reshape(tf.slice(filter, [kh, kw, 0, 0], [1, 1, info.inChannels, multiplier]), [info.inChannels, multiplier]);
      const contribution = tf.sum(tf.mul(dy, weights), 4); // [b, oh, ow, c]
      // Interleave zeros to the stride: [b, oh, 1, ow, 1, c] → pad → [b, oh·sh, ow·sw, c].
      const spread = tf.reshape(
        tf.pad(tf.reshape(contribution, [info.batchSize, info.outHeight, 1, info.outWidth, 1, info.inChannels]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]),
        [info.batchSize, info.outHeight * sh, info.outWidth * sw, info.inChannels],
      );
      const top = kh * info.dilationHeight;
      const left = kw * info.dilationWidth;
      canvas = tf.add(canvas, tf.pad(spread, [[0, 0], [top, canvasH - top - info.outHeight * sh], [left, canvasW - left - info.outWidth * sw], [0, 0]]));
    }
  }
  return tf.slice(canvas, [0, info.padInfo.top, info.padInfo.left, 0], [info.batchSize, info.inHeight, info.inWidth, info.inChannels]);
};

/**
 * dx of a convolution as a convolution: dy spread to the stride (zeros
 * between), padded so every input pixel sees every tap that read it, and
 * filtered by the kernel turned 180° with its channels swapped. wasm's own
 * Conv2DBackpropInput is a plain loop; this runs on its XNNPACK convolution
 * (in the profile: 585 ms → a few ms per call for a 3×3 layer at batch 64).
 * Dilated convolutions keep the native kernel.
 */
const conv2DBackpropInput: Compute = (inputs, a, backend) => {
  const inputShape = a['inputShape'] as [number, number, number, number];
  const filterShape = inputs['filter']!.shape as [number, number, number, number];
  const info = convInfo(inputShape, filterShape, a, false);
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const dy = asTensor<tf.Rank.R4>(backend, inputs['dy']!);
  const spread = sh === 1 && sw === 1 ? dy : tf.reshape(
    tf.pad(tf.reshape(dy, [info.batchSize, info.outHeight, 1, info.outWidth, 1, info.outChannels]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]),
    [info.batchSize, info.outHeight * sh, info.outWidth * sw, info.outChannels],
  ) as tf.Tensor4D;
  // Rows of the spread dy from −(kh−1−top) up to the last one any input row needs; negative ends crop.
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = info.inHeight + kh - 1 - top - info.outHeight * sh;
  const right = info.inWidth + kw - 1 - left - info.outWidth * sw;
  const cropped = tf.slice(spread, [0, 0, 0, 0], [info.batchSize, info.outHeight * sh + Math.min(0, bottom), info.outWidth * sw + Math.min(0, right), info.outChannels]);
  const padded = tf.pad(cropped, [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]]) as tf.Tensor4D;
  const turned = tf.transpose(tf.reverse(asTensor<tf.Rank.R4>(backend, inputs['filter']!), [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
  return tf.conv2d(padded, turned, 1, 'valid');
};

/**
 * A matrix product with a transposed operand — what every dense and 1×1
 * convolution gradient asks for. wasm's BatchMatMul takes a slow path for
 * transposed operands (216 ms vs 6 ms for a 9216×64·64×128 weight gradient
 * in the profile), so the operand is transposed first and the product taken
 * plainly, by the native kernel.
 */
const batchMatMulTransposed: Compute = (inputs, a, backend) => {
  const swapLast = (x: tf.Tensor): tf.Tensor => tf.transpose(x, [...x.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : i === all.length - 2 ? i + 1 : i - 1)));
  const left = asTensor(backend, inputs['a']!);
  const right = asTensor(backend, inputs['b']!);
  return tf.matMul(a['transposeA'] ? swapLast(left) : left, a['transposeB'] ? swapLast(right) : right);
};

/** The native kernels some of these replace, kept for the cases the composition does not cover. */
const nativeKernels = new Map<string, tf.KernelFunc>();

/** Uses the composition, or the native kernel where the attrs fall outside it. */
function withFallback(kernelName: string, compute: Compute, covers: (attrs: Record<string, unknown>) => boolean): tf.KernelFunc {
  const ours = composed(compute);
  return ((args: { attrs?: Record<string, unknown> }) => (covers(args.attrs ?? {}) || !nativeKernels.has(kernelName) ? ours : nativeKernels.get(kernelName)!)(args as never)) as unknown as tf.KernelFunc;
}

const undilated = (attrs: Record<string, unknown>): boolean => {
  const d = attrs['dilations'] as number | [number, number] | undefined;
  return d === undefined || d === 1 || (Array.isArray(d) && d[0] === 1 && d[1] === 1);
};

const KERNELS: [string, tf.KernelFunc][] = [
  ['Conv2DBackpropFilter', composed(conv2DBackpropFilter)],
  ['DepthwiseConv2dNativeBackpropFilter', composed(depthwiseBackpropFilter)],
  ['DepthwiseConv2dNativeBackpropInput', composed(depthwiseBackpropInput)],
];

/** Kernels wasm has but runs slowly; replaced, with the native one kept as the fallback. */
const REPLACEMENTS: [string, tf.KernelFunc][] = [
  ['Conv2DBackpropInput', withFallback('Conv2DBackpropInput', conv2DBackpropInput, undilated)],
  // Untransposed products go to the native kernel, so the composition's own matMul never comes back here.
  ['BatchMatMul', withFallback('BatchMatMul', batchMatMulTransposed, (attrs) => attrs['transposeA'] === true || attrs['transposeB'] === true)],
];

/** Registers the missing kernels for wasm (unless a newer tfjs has them) and the faster replacements. */
export function registerWasmGradientKernels(): string[] {
  const added: string[] = [];
  for (const [kernelName, kernelFunc] of KERNELS) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    added.push(kernelName);
  }
  for (const [kernelName, kernelFunc] of REPLACEMENTS) {
    if (nativeKernels.has(kernelName)) continue;
    const native = tf.getKernel(kernelName, 'wasm');
    if (native) {
      nativeKernels.set(kernelName, native.kernelFunc);
      tf.unregisterKernel(kernelName, 'wasm');
    }
    // The native kernel's setup binds its wasm function when the backend starts; keep it, so the fallback works.
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, ...(native?.setupFunc ? { setupFunc: native.setupFunc } : {}) });
    added.push(kernelName);
  }
  return added;
}
