import * as tf from '@tensorflow/tfjs';

/**
 * The wasm backend has no kernels for three convolution gradients, so it
 * cannot train a conv layer (fine-tuning a base). These compose them from
 * kernels wasm does have — pad, strided slice, matMul, mul, sum — and are
 * checked numerically against the cpu backend's kernels in the tests.
 * NHWC only, as every model tlpipe builds.
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

/** dW[kh, kw, ci, co] = Σ x(window of tap kh,kw)[·, ci] · dy[·, co]: one matMul per tap. */
const conv2DBackpropFilter: Compute = (inputs, a, backend) => {
  const filterShape = a['filterShape'] as number[];
  const info = convInfo(inputs['x']!.shape, filterShape, a, false);
  const x = paddedInput(asTensor<tf.Rank.R4>(backend, inputs['x']!), info);
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

const KERNELS: [string, tf.KernelFunc][] = [
  ['Conv2DBackpropFilter', composed(conv2DBackpropFilter)],
  ['DepthwiseConv2dNativeBackpropFilter', composed(depthwiseBackpropFilter)],
  ['DepthwiseConv2dNativeBackpropInput', composed(depthwiseBackpropInput)],
];

/** Registers the three kernels for wasm, unless a (newer) tfjs already has them. */
export function registerWasmGradientKernels(): string[] {
  const added: string[] = [];
  for (const [kernelName, kernelFunc] of KERNELS) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    added.push(kernelName);
  }
  return added;
}
