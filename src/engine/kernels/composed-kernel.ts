import tf from '../tfjs.cjs';

/**
 * Kernels for the wasm backend written with tfjs ops. Inputs and outputs
 * share the backend's buffers instead of copying them: the backend counts
 * references per buffer (as its Reshape kernel does), so a wrapper and the
 * engine's own tensor each hold one, and disposing either frees nothing the
 * other still uses.
 */
export type Info = tf.TensorInfo;

interface WasmBackendLike {
  incRef(dataId: object): void;
}

/** A kernel's input as a tensor sharing its buffer. */
export function asTensor<R extends tf.Rank>(backend: unknown, info: Info): tf.Tensor<R> {
  (backend as WasmBackendLike).incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
}

/** The kernel output for `result`, sharing its buffer; `result` itself is disposed. */
function shareOutput(backend: unknown, result: tf.Tensor): Info {
  (backend as WasmBackendLike).incRef(result.dataId);
  const out = { dataId: result.dataId, shape: result.shape, dtype: result.dtype };
  result.dispose();
  return out;
}

export type Compute = (inputs: Record<string, Info>, attrs: Record<string, unknown>, backend: unknown) => tf.Tensor;
export type KernelArgs = { inputs: Record<string, Info>; attrs?: Record<string, unknown>; backend: unknown };

/** A kernel computed with ops; every intermediate is freed, and the result's buffer becomes the kernel's output. */
export function composed(compute: Compute): tf.KernelFunc {
  return (({ inputs, attrs, backend }: KernelArgs) => {
    const result = tf.tidy(() => compute(inputs, attrs ?? {}, backend));
    return shareOutput(backend, result);
  }) as unknown as tf.KernelFunc;
}

/** The native kernels the replacements set aside, for the cases a replacement does not cover. */
const nativeKernels = new Map<string, tf.KernelFunc>();

/** A replacement for a native kernel: the composition where `covers` says so, the native kernel otherwise. */
export interface Replacement {
  kernelName: string;
  compute: Compute;
  covers: (inputs: Record<string, Info>, attrs: Record<string, unknown>) => boolean;
}

/**
 * The native kernel a replacement set aside, run on tensors of the current
 * scope (the engine is not asked: it would route the call back to the
 * replacement). For a composition that needs the native form itself.
 */
export function nativeKernel(
  kernelName: string,
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, unknown>,
  backend: unknown,
): tf.Tensor {
  const native = nativeKernels.get(kernelName);
  if (!native) throw new Error(`no native ${kernelName} kernel was set aside`);
  const out = native({ inputs, attrs, backend } as never) as unknown as Info;
  return tf.engine().makeTensorFromTensorInfo(out, backend as tf.KernelBackend);
}

function withFallback({ kernelName, compute, covers }: Replacement): tf.KernelFunc {
  const ours = composed(compute);
  return ((args: KernelArgs) => {
    const native = nativeKernels.get(kernelName);
    return (covers(args.inputs, args.attrs ?? {}) || !native ? ours : native)(args as never);
  }) as unknown as tf.KernelFunc;
}

/** Registers kernels wasm lacks (unless a newer tfjs has them). */
export function registerMissing(kernels: [string, Compute][]): string[] {
  const added: string[] = [];
  for (const [kernelName, compute] of kernels) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: composed(compute) });
    added.push(kernelName);
  }
  return added;
}

/** Replaces native wasm kernels, keeping each as the fallback; only for wasm, so no other backend changes. */
export function registerReplacements(replacements: Replacement[]): string[] {
  const added: string[] = [];
  for (const replacement of replacements) {
    const { kernelName } = replacement;
    if (nativeKernels.has(kernelName)) continue;
    const native = tf.getKernel(kernelName, 'wasm');
    if (native) {
      nativeKernels.set(kernelName, native.kernelFunc);
      tf.unregisterKernel(kernelName, 'wasm');
    }
    // The native kernel's setup binds its wasm function when the backend starts; keep it, so the fallback works.
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: withFallback(replacement),
      ...(native?.setupFunc ? { setupFunc: native.setupFunc } : {}),
    });
    added.push(kernelName);
  }
  return added;
}
