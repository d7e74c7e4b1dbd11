import tf from '../tfjs.cjs';

/**
 * Kernels for the wasm backend written as JavaScript loops over the
 * backend's own heap: for the few kernels that are neither a product nor an
 * elementwise operation XNNPACK could run, and that wasm runs as a loop
 * slower than V8 runs the plain one. Inputs are read and outputs written in
 * place on the heap (no copy in or out). Each is checked against the cpu
 * backend and wasm's own kernel on a table of shapes in the tests.
 */

/** The wasm backend's surface these kernels use (public methods of tfjs-backend-wasm's BackendWasm). */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

type HeapKernel = (args: {
  inputs: Record<string, tf.TensorInfo>;
  attrs: Record<string, unknown>;
  backend: WasmHeapBackend;
}) => tf.TensorInfo;

/**
 * The gradient of max pooling as the cpu backend (and TensorFlow) define
 * it: each window's dy goes to the first of its largest inputs, scanned row
 * by row (a window of NaN or −∞ alone sends it nowhere), and an input that
 * several windows chose gets their sum, added in double precision in the
 * windows' row-major order and rounded once, as the cpu backend adds it; so
 * the two agree bit for bit. wasm's own kernel is slow (18 of a seed CNN
 * step's 74 ms) and differs: it starts each window's search at the smallest
 * positive float and keeps the last of equal maxima, so a window of zeros or
 * negative values gets no gradient (its first window aside) and tied maxima
 * send theirs to the last of them.
 */
const maxPoolGrad: HeapKernel = ({ inputs, attrs, backend }) => {
  const x = inputs['input']!;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs['filterSize'] as [number, number] | number,
    attrs['strides'] as [number, number] | number,
    1,
    attrs['pad'] as 'valid' | 'same' | number,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
  );
  const dxInfo = backend.makeOutput(x.shape, 'float32');
  // Views after the output's allocation, which may have grown (and so replaced) the heap's buffer.
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const dys = backend.typedArrayFromHeap(inputs['dy']!) as Float32Array;
  const dx = backend.typedArrayFromHeap(dxInfo) as Float32Array;
  dx.fill(0);
  const chosen = firstMaxima(xs, info);
  const overlapping = info.strideHeight < info.effectiveFilterHeight || info.strideWidth < info.effectiveFilterWidth;
  if (!overlapping) {
    // Each input is in one window at most: its gradient is that window's dy or 0, no sum to round.
    for (let o = 0; o < chosen.length; o++) if (chosen[o]! >= 0) dx[chosen[o]!] = dys[o]! + 0; // + 0: the cpu backend adds dy to 0, so −0 arrives as 0
  } else {
    gatherOverlapping(dx, dys, chosen, info);
  }
  return dxInfo;
};

/** For each window (NHWC order of the output), the heap index of its first maximum in x, or −1. */
function firstMaxima(xs: Float32Array, info: tf.backend_util.Conv2DInfo): Int32Array {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const rowStride = inWidth * channels;
  const chosen = new Int32Array(batchSize * outHeight * outWidth * channels);
  // A window's taps as offsets of its pixels in x, in scan order; each channel adds its own index.
  const taps = new Int32Array(fh * fw);
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let yr = 0; yr < outHeight; yr++) {
      const r0 = yr * strideHeight - top;
      for (let yc = 0; yc < outWidth; yc++) {
        const c0 = yc * strideWidth - left;
        let n = 0;
        for (let r = Math.max(0, r0); r < Math.min(inHeight, r0 + fh); r++)
          for (let c = Math.max(0, c0); c < Math.min(inWidth, c0 + fw); c++)
            taps[n++] = (b * inHeight + r) * rowStride + c * channels;
        // Channels innermost: consecutive in x, so each tap reads along a row of memory.
        for (let d = 0; d < channels; d++, o++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let t = 0; t < n; t++) {
            const i = taps[t]! + d;
            const v = xs[i]!;
            if (v > best) {
              best = v;
              at = i;
            }
          }
          chosen[o] = at;
        }
      }
    }
  }
  return chosen;
}

/** Overlapping windows: each input sums the dy of the windows that chose it, in their order, in double precision. */
function gatherOverlapping(
  dx: Float32Array,
  dys: Float32Array,
  chosen: Int32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  let i = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let r = 0; r < inHeight; r++) {
      // Windows yr with yr·stride − top ≤ r < yr·stride − top + fh.
      const yrMin = Math.max(0, Math.ceil((r + top - fh + 1) / strideHeight));
      const yrMax = Math.min(outHeight - 1, Math.floor((r + top) / strideHeight));
      for (let c = 0; c < inWidth; c++) {
        const ycMin = Math.max(0, Math.ceil((c + left - fw + 1) / strideWidth));
        const ycMax = Math.min(outWidth - 1, Math.floor((c + left) / strideWidth));
        for (let d = 0; d < channels; d++, i++) {
          let sum = 0;
          for (let yr = yrMin; yr <= yrMax; yr++) {
            for (let yc = ycMin; yc <= ycMax; yc++) {
              const o = ((b * outHeight + yr) * outWidth + yc) * channels + d;
              if (chosen[o] === i) sum += dys[o]!;
            }
          }
          dx[i] = sum;
        }
      }
    }
  }
}

const HEAP_KERNELS: [string, HeapKernel, (inputs: Record<string, tf.TensorInfo>) => boolean][] = [
  ['MaxPoolGrad', maxPoolGrad, (inputs) => inputs['input']!.dtype === 'float32' && inputs['dy']!.dtype === 'float32'],
];

const replaced = new Set<string>();

/** Replaces wasm's kernels by the heap kernels above, for wasm only; the native kernel stays for what a kernel does not cover. */
export function registerHeapKernels(keep: ReadonlySet<string>): string[] {
  const added: string[] = [];
  for (const [kernelName, kernel, covers] of HEAP_KERNELS) {
    if (replaced.has(kernelName) || keep.has(kernelName)) continue;
    const native = tf.getKernel(kernelName, 'wasm');
    if (native) tf.unregisterKernel(kernelName, 'wasm');
    const kernelFunc = ((args: Parameters<HeapKernel>[0]) =>
      covers(args.inputs) || !native ? kernel(args) : native.kernelFunc(args as never)) as unknown as tf.KernelFunc;
    // The native kernel's setup binds its wasm function when the backend starts; keep it, so the fallback works.
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc,
      ...(native?.setupFunc ? { setupFunc: native.setupFunc } : {}),
    });
    replaced.add(kernelName);
    added.push(kernelName);
  }
  return added;
}
