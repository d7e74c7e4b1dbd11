import tf from '../tfjs.cjs';
import type { BackendName } from '../../format/types.js';
import { UserError } from '../../diagnostics/user-error.js';
import { registerWasmKernels } from './register-wasm-kernels.js';
import { setting } from '../../platform/settings.js';

export type ConcreteBackend = Exclude<BackendName, 'auto'>;

export interface BackendChoice {
  name: ConcreteBackend;
  /** Why each faster backend was passed over, for the run record and the log. */
  skipped: { name: ConcreteBackend; reason: string }[];
}

/** Fastest first: native TensorFlow, then WebAssembly (SIMD, XNNPACK), then pure JS. */
const AUTO_ORDER: readonly ConcreteBackend[] = ['tensorflow', 'wasm', 'cpu'];

/** The process-wide handlers a backend's start-up may add behind the user's back. */
const PROCESS_HANDLER_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * Runs `work`, then removes exactly the `uncaughtException` and
 * `unhandledRejection` listeners it added to the process. The wasm
 * backend's emscripten module adds both when it starts under Node (no
 * option turns that off) and rethrows from them, so a later error of the
 * program that uses tlpipe would exit with code 7 and a trace into tfjs;
 * a library must leave the process's error handling to its program.
 */
async function withoutAddedProcessHandlers<T>(work: () => Promise<T>): Promise<T> {
  // As a plain emitter: Process types listeners() per event, one overload at a time.
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(PROCESS_HANDLER_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  try {
    return await work();
  } finally {
    for (const event of PROCESS_HANDLER_EVENTS) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
}

async function activate(name: ConcreteBackend): Promise<void> {
  await withoutAddedProcessHandlers(() => start(name));
}

async function start(name: ConcreteBackend): Promise<void> {
  if (name === 'tensorflow') {
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch (error) {
      // Optional dependency: absent where its install could not download libtensorflow.
      if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
        throw new Error('@tensorflow/tfjs-node is not installed (its install downloads libtensorflow)', {
          cause: error,
        });
      }
      throw error;
    }
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    // Without these, wasm cannot train a convolution (fine-tuning a base, a conv head); the rest are faster paths.
    registerWasmKernels(setting('TLPIPE_WASM_NATIVE'));
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
      // Said of the backend, not of where it was asked for: the pipeline's `backend:` or a --backend flag.
      const hint =
        requested === 'tensorflow'
          ? 'install @tensorflow/tfjs-node (it downloads libtensorflow), or ask for backend auto, which falls back to wasm'
          : 'ask for backend auto to fall back to another backend';
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
  if (
    backend !== 'wasm' ||
    !(
      (error as Error)?.name === 'RuntimeError' ||
      /^Aborted\(|memory access out of bounds|Cannot enlarge memory/.test(message)
    )
  )
    return undefined;
  return new UserError(
    `the wasm backend ran out of memory (its heap holds 4 GiB): ${message.split('.')[0]}`,
    [],
    'lower the batch size of the stage that was running, use smaller images, or unfreeze fewer layers',
  );
}
