import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../../format/types.js';
import { UserError } from '../../diagnostics/user-error.js';
import { registerWasmKernels } from './register-wasm-kernels.js';

export type ConcreteBackend = Exclude<BackendName, 'auto'>;

export interface BackendChoice {
  name: ConcreteBackend;
  /** Why each faster backend was passed over, for the run record and the log. */
  skipped: { name: ConcreteBackend; reason: string }[];
}

/** Fastest first: native TensorFlow, then WebAssembly (SIMD, XNNPACK), then pure JS. */
const AUTO_ORDER: readonly ConcreteBackend[] = ['tensorflow', 'wasm', 'cpu'];

async function activate(name: ConcreteBackend): Promise<void> {
  if (name === 'tensorflow') {
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch (error) {
      // Optional dependency: absent where its install could not download libtensorflow.
      if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
        throw new Error('@tensorflow/tfjs-node is not installed (its install downloads libtensorflow)');
      }
      throw error;
    }
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    // Without these, wasm cannot train a convolution (fine-tuning a base, a conv head); the rest are faster paths.
    registerWasmKernels((process.env['TLPIPE_WASM_NATIVE'] ?? '').split(',').map((name) => name.trim()).filter(Boolean));
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  // Production mode: no debug checks, and no banner urging tfjs-node (the run log says which backend ran and why).
  tf.enableProdMode();
}

function firstLine(error: unknown): string {
  return ((error as Error).message ?? String(error)).split('\n')[0]!;
}

/**
 * Activates the requested backend. `auto` takes the first that loads, so a
 * machine where tfjs-node could not install still runs, on wasm.
 */
export async function selectBackend(requested: BackendName): Promise<BackendChoice> {
  if (requested !== 'auto' && tf.getBackend() === requested) return { name: requested, skipped: [] };
  if (requested !== 'auto') {
    try {
      await activate(requested);
      return { name: requested, skipped: [] };
    } catch (error) {
      const hint =
        requested === 'tensorflow'
          ? 'install @tensorflow/tfjs-node (it downloads libtensorflow), or use `backend: auto`'
          : 'use `backend: auto` to fall back to another backend';
      throw new UserError(`backend \`${requested}\` is not available: ${firstLine(error)}`, ['backend'], hint);
    }
  }
  const skipped: BackendChoice['skipped'] = [];
  for (const name of AUTO_ORDER) {
    try {
      await activate(name);
      return { name, skipped };
    } catch (error) {
      skipped.push({ name, reason: firstLine(error) });
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/**
 * The wasm backend reports an exhausted 4 GiB heap as a bare `Aborted()` or
 * an out-of-bounds access. The plan's estimate should prevent it; if it does
 * not, this says what happened instead of a stack trace.
 */
export function outOfMemoryError(error: unknown, backend: string): UserError | undefined {
  const message = (error as Error)?.message ?? '';
  if (backend !== 'wasm' || !((error as Error)?.name === 'RuntimeError' || /^Aborted\(|memory access out of bounds|Cannot enlarge memory/.test(message))) return undefined;
  return new UserError(`the wasm backend ran out of memory (its heap holds 4 GiB): ${message.split('.')[0]}`, [], 'lower the batch size of the stage that was running, use smaller images, or unfreeze fewer layers');
}
