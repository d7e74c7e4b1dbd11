import tf from '../tfjs.cjs';
import { registerMissing, registerReplacements } from './composed-kernel.js';
import { batchNormGradient, clipGradient, FORWARD_REPLACEMENTS } from './wasm-fast-kernels.js';
import { GRADIENT_REPLACEMENTS, MISSING_GRADIENT_KERNELS } from './wasm-gradient-kernels.js';
import { registerHeapKernels } from './wasm-heap-kernels.js';

/** Gradients replaced on wasm: the registry is shared by all backends, so each replacement checks the backend at each call. */
const GRADIENTS: [string, (original: tf.GradConfig) => tf.GradConfig][] = [
  ['FusedBatchNorm', batchNormGradient],
  ['ClipByValue', clipGradient],
];
const replacedGradients = new Set<string>();

/**
 * Registers, for the wasm backend only, the convolution gradients it lacks
 * and the faster replacements of kernels it runs slowly (each keeps the
 * native kernel as its fallback). `keepNative` names kernels to leave as
 * wasm has them (TLPIPE_WASM_NATIVE=FusedBatchNorm,Identity; a gradient as
 * FusedBatchNormGrad, ClipByValueGrad), to measure
 * what each replacement buys or to rule one out.
 */
export function registerWasmKernels(keepNative: readonly string[] = []): string[] {
  const keep = new Set(keepNative);
  const added = [
    ...registerMissing(MISSING_GRADIENT_KERNELS),
    ...registerReplacements([...GRADIENT_REPLACEMENTS, ...FORWARD_REPLACEMENTS].filter((r) => !keep.has(r.kernelName))),
    ...registerHeapKernels(keep),
  ];
  for (const [kernelName, replace] of GRADIENTS) {
    const original = tf.getGradient(kernelName);
    if (replacedGradients.has(kernelName) || !original || keep.has(`${kernelName}Grad`)) continue;
    tf.registerGradient(replace(original));
    replacedGradients.add(kernelName);
    added.push(`${kernelName}Grad`);
  }
  return added;
}
