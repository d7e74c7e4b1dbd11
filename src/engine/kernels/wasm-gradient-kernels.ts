import tf from '../tfjs.cjs';
import { asTensor, type Compute, type Info, type Replacement } from './composed-kernel.js';

/**
 * The wasm backend has no kernels for three convolution gradients, so it
 * cannot train a conv layer (fine-tuning a base), and its fourth is a slow
 * loop. These compose them from kernels wasm runs fast — convolution,
 * transpose, pad, strided slice, matMul — and are checked numerically
 * against the cpu backend's kernels in the tests. NHWC only, as every
 * model tlpipe builds.
 */

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** x padded as the forward convolution saw it, large enough for every window. */
function paddedInput(x: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { top, left } = info.padInfo;
  const neededH = (info.outHeight - 1) * info.strideHeight + (info.filterHeight - 1) * info.dilationHeight + 1;
  const neededW = (info.outWidth - 1) * info.strideWidth + (info.filterWidth - 1) * info.dilationWidth + 1;
  const bottom = Math.max(0, neededH - top - info.inHeight);
  const right = Math.max(0, neededW - left - info.inWidth);
  return tf.pad(x, [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ]);
}

/** The input values one filter tap (kh, kw) met at every output position: [batch, outH, outW, inC]. */
function tapWindow(xPadded: tf.Tensor4D, info: Conv2DInfo, kh: number, kw: number): tf.Tensor4D {
  const h0 = kh * info.dilationHeight;
  const w0 = kw * info.dilationWidth;
  return tf.stridedSlice(
    xPadded,
    [0, h0, w0, 0],
    [
      info.batchSize,
      h0 + (info.outHeight - 1) * info.strideHeight + 1,
      w0 + (info.outWidth - 1) * info.strideWidth + 1,
      info.inChannels,
    ],
    [1, info.strideHeight, info.strideWidth, 1],
  ) as tf.Tensor4D;
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: Record<string, unknown>,
  depthwise: boolean,
): Conv2DInfo {
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
  const window = info.filterHeight * info.filterWidth;
  if (
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    window > 1 &&
    window * info.inChannels <= FEW_PATCH_VALUES
  )
    return fromPatches(inputs, a, backend, info);
  const x = paddedInput(asTensor<tf.Rank.R4>(backend, inputs['x']!), info);
  if (info.dilationHeight === 1 && info.dilationWidth === 1 && info.filterHeight * info.filterWidth > 1) {
    // x' [ci, H, W, b] ⊛ dy' [oh, ow, b, co], dilated by the stride, valid → [ci, kh, kw, co]; cropped, since x may be padded beyond need.
    const xT = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D;
    const dyT = tf.transpose(asTensor<tf.Rank.R4>(backend, inputs['dy']!), [1, 2, 0, 3]) as tf.Tensor4D;
    const full = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    return tf.transpose(
      tf.slice(full, [0, 0, 0, 0], [info.inChannels, info.filterHeight, info.filterWidth, info.outChannels]),
      [1, 2, 0, 3],
    );
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

/** Values in a window (taps × input channels) up to which the filter gradient goes through patches. */
const FEW_PATCH_VALUES = 32;

/**
 * dW for a layer with few values per window (a first layer on grey or RGB
 * images): the windows as patches, one row per output position, made by a
 * convolution with the identity filter (with the layer's own strides and
 * padding, so they are its windows; a product with 1 and sums with zeros
 * copy each value exactly, for finite inputs), then dW = patchesᵀ·dy. The
 * convolution below would pack all of dy as a filter at every call and run
 * a product only kh·kw·ci rows tall: 5.2 ms against 2.7 ms at the seed
 * CNN's first layer (batch 32, 28×28×1, 32 filters).
 */
function fromPatches(
  inputs: Record<string, Info>,
  a: Record<string, unknown>,
  backend: unknown,
  info: Conv2DInfo,
): tf.Tensor {
  const values = info.filterHeight * info.filterWidth * info.inChannels;
  const rows = info.batchSize * info.outHeight * info.outWidth;
  const identity = tf.reshape(tf.eye(values), [info.filterHeight, info.filterWidth, info.inChannels, values]);
  const patches = tf.conv2d(
    asTensor<tf.Rank.R4>(backend, inputs['x']!),
    identity as tf.Tensor4D,
    a['strides'] as [number, number],
    a['pad'] as 'same',
    'NHWC',
    1,
    a['dimRoundingMode'] as 'round' | undefined,
  );
  const dy = tf.reshape(asTensor(backend, inputs['dy']!), [rows, info.outChannels]);
  // The product replacement takes it as (dyᵀ·patches)ᵀ, packing the patches (the small operand).
  const product = tf.matMul(tf.reshape(patches, [rows, values]), dy, true, false);
  return tf.reshape(product, a['filterShape'] as number[]);
}

/**
 * dW[kh, kw, c, m] = Σ_b Σ_ij x(tap kh,kw window)[b, i, j, c] · dy[b, i, j, c·M + m].
 * With batch and channels merged into one channel axis, that is itself a
 * depthwise convolution, which wasm runs through XNNPACK: the padded input
 * [1, H, W, b·c] filtered by dy [oh, ow, b·c, M] (the forward stride as its
 * dilation, the forward dilation as its stride), then summed over the batch
 * (12× faster than one multiply and reduction per tap at MobileNetV2's top
 * blocks, 1.5× at its first ones).
 */
const depthwiseBackpropFilter: Compute = (inputs, a, backend) => {
  const filterShape = a['filterShape'] as [number, number, number, number];
  const info = convInfo(inputs['x']!.shape, filterShape, a, true);
  const [kh, kw, channels, multiplier] = filterShape;
  const { batchSize: b, outHeight: oh, outWidth: ow } = info;
  const x = paddedInput(asTensor<tf.Rank.R4>(backend, inputs['x']!), info);
  const [, hp, wp] = x.shape;
  const merged = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, hp, wp, b * channels]) as tf.Tensor4D;
  const dy = tf.reshape(tf.transpose(asTensor<tf.Rank.R4>(backend, inputs['dy']!), [1, 2, 0, 3]), [
    oh,
    ow,
    b * channels,
    multiplier,
  ]) as tf.Tensor4D;
  const taps = tf.depthwiseConv2d(merged, dy, [info.dilationHeight, info.dilationWidth], 'valid', 'NHWC', [
    info.strideHeight,
    info.strideWidth,
  ]);
  const perImage = tf.reshape(tf.slice(taps, [0, 0, 0, 0], [1, kh, kw, b * channels * multiplier]), [
    kh * kw,
    b,
    channels * multiplier,
  ]);
  return tf.reshape(tf.matMul(tf.ones([kh * kw, 1, b]), perImage), filterShape);
};

/**
 * dx of a depthwise convolution as a depthwise convolution (as
 * conv2DBackpropInput below for a full one): dy spread to the stride,
 * padded, filtered by the kernel turned 180° — per channel and multiplier,
 * summed over the multiplier. tfjs-core takes no gradient of a dilated
 * depthwise convolution, so none arrives here.
 */
const depthwiseBackpropInput: Compute = (inputs, a, backend) => {
  const inputShape = a['inputShape'] as [number, number, number, number];
  const filterShape = inputs['filter']!.shape as [number, number, number, number];
  const info = convInfo(inputShape, filterShape, a, true);
  const [kh, kw, channels, multiplier] = filterShape;
  const padded = spreadAndPad(asTensor<tf.Rank.R4>(backend, inputs['dy']!), info);
  const turned = tf.reshape(tf.reverse(asTensor<tf.Rank.R4>(backend, inputs['filter']!), [0, 1]), [
    kh,
    kw,
    channels * multiplier,
    1,
  ]) as tf.Tensor4D;
  const perMultiplier = tf.depthwiseConv2d(padded, turned, 1, 'valid');
  if (multiplier === 1) return perMultiplier;
  return tf.sum(tf.reshape(perMultiplier, [info.batchSize, info.inHeight, info.inWidth, channels, multiplier]), 4);
};

/**
 * dy spread to the stride (zeros between) and padded so that a valid
 * convolution with the kernel turned 180° gives dx: every input pixel sees
 * every tap that read it. Rows from −(kh−1−top) up to the last one any
 * input row needs; negative ends crop.
 */
function spreadAndPad(dy: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const channels = dy.shape[3];
  const spread =
    sh === 1 && sw === 1
      ? dy
      : (tf.reshape(
          tf.pad(tf.reshape(dy, [info.batchSize, info.outHeight, 1, info.outWidth, 1, channels]), [
            [0, 0],
            [0, 0],
            [0, sh - 1],
            [0, 0],
            [0, sw - 1],
            [0, 0],
          ]),
          [info.batchSize, info.outHeight * sh, info.outWidth * sw, channels],
        ) as tf.Tensor4D);
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = info.inHeight + kh - 1 - top - info.outHeight * sh;
  const right = info.inWidth + kw - 1 - left - info.outWidth * sw;
  const cropped = tf.slice(
    spread,
    [0, 0, 0, 0],
    [info.batchSize, info.outHeight * sh + Math.min(0, bottom), info.outWidth * sw + Math.min(0, right), channels],
  );
  return tf.pad(cropped, [
    [0, 0],
    [top, Math.max(0, bottom)],
    [left, Math.max(0, right)],
    [0, 0],
  ]) as tf.Tensor4D;
}

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
  const padded = spreadAndPad(asTensor<tf.Rank.R4>(backend, inputs['dy']!), info);
  const turned = tf.transpose(
    tf.reverse(asTensor<tf.Rank.R4>(backend, inputs['filter']!), [0, 1]),
    [0, 1, 3, 2],
  ) as tf.Tensor4D;
  return tf.conv2d(padded, turned, 1, 'valid');
};

const undilated = (attrs: Record<string, unknown>): boolean => {
  const d = attrs['dilations'] as number | [number, number] | undefined;
  return d === undefined || d === 1 || (Array.isArray(d) && d[0] === 1 && d[1] === 1);
};

/** Gradients wasm lacks. */
export const MISSING_GRADIENT_KERNELS: [string, Compute][] = [
  ['Conv2DBackpropFilter', conv2DBackpropFilter],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput],
];

/** Gradients wasm has but runs slowly. */
export const GRADIENT_REPLACEMENTS: Replacement[] = [
  { kernelName: 'Conv2DBackpropInput', compute: conv2DBackpropInput, covers: (_, attrs) => undilated(attrs) },
];
