import tf from '../tfjs.cjs';
import { fingerprint } from '../../plan/fingerprint.js';
import { version as tlpipeVersion } from '../../package/package-root.js';
import type { FeaturesTask, Plan } from '../../plan/types.js';
import type { StageSummary } from '../train/checkpoints.js';
import { RunInterrupted } from '../errors.js';
import type { EpochMetrics, EventListener } from '../events.js';

/**
 * What a finished stage leaves for a later run whose plan is the same up to
 * that stage: the model's weights at the stage's end, the random streams'
 * state, and the record of every epoch so far. Keyed by the stage's plan
 * fingerprint (which chains the data, base, head and every stage before)
 * and the backend, since backends differ in the last bits.
 */
export interface CachedStage {
  kind: 'head' | 'full';
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: Uint8Array;
  random: Record<string, number>;
  completedStages: StageSummary[];
  metrics: EpochMetrics[];
}

/**
 * The store implements it. Every read is verified against the entry's
 * manifest (its metadata included) and its metadata's shape against the
 * data; a damaged entry reads as absent (the store says so), so it is
 * computed again and rewritten, never used.
 */
export interface StageCache {
  readFeatures(key: string): Promise<{ shape: number[]; data: Float32Array } | undefined>;
  writeFeatures(key: string, shape: number[], data: Float32Array): Promise<void>;
  /** Several entries at once: the cache is brought within its size once, after the last. */
  writeManyFeatures(entries: readonly { key: string; shape: number[]; data: Float32Array }[]): Promise<void>;
  readStage(key: string): Promise<CachedStage | undefined>;
  writeStage(key: string, stage: CachedStage): Promise<void>;
  /**
   * Single-flight across processes (trials of a sweep, on one machine or on
   * several sharing the folder): resolves once this run may compute the
   * entry, with the function that gives it up, after waiting while another
   * live process holds it. Read again before computing: that process has
   * usually written it.
   */
  claim(
    kind: 'features' | 'stages',
    key: string,
    wait: { signal?: AbortSignal; onWait?: (holder: string) => void },
  ): Promise<() => Promise<void>>;
}

/**
 * An entry of the cache, read, or computed by `compute` (which also writes
 * it) under the entry's claim, so that runs needing the same entry at once
 * compute it once: the others wait, then read it.
 */
export async function readOrCompute<T>(
  cache: StageCache | undefined,
  entry: { kind: 'features' | 'stages'; key: string; what: string },
  read: (cache: StageCache) => Promise<T | undefined>,
  compute: () => Promise<T>,
  options: { onEvent: EventListener; signal?: AbortSignal },
): Promise<{ value: T; reused: boolean }> {
  if (!cache) return { value: await compute(), reused: false };
  const first = await read(cache);
  if (first !== undefined) return { value: first, reused: true };
  const release = await claimEntry(
    cache,
    entry.kind,
    entry.key,
    `computing ${entry.what} (computed once, then shared)`,
    options,
  );
  try {
    const written = await read(cache);
    if (written !== undefined) return { value: written, reused: true };
    return { value: await compute(), reused: false };
  } finally {
    await release();
  }
}

/**
 * The versions in every cache key: an upgrade of tlpipe (a kernel fixed, a
 * step computed another way) or of tfjs's kernels may change the last bits of
 * what the same plan computes, so an entry an older version wrote is not used.
 */
export interface EngineVersions {
  tlpipe: string;
  tfjs: string;
}
export const ENGINE_VERSIONS: EngineVersions = { tlpipe: tlpipeVersion, tfjs: tf.version['tfjs-core'] };

/** A stage's cache key on this backend. */
export function stageKey(
  stage: Plan['stages'][number],
  backend: string,
  versions: EngineVersions = ENGINE_VERSIONS,
): string {
  return fingerprint({ stage: stage.fingerprint, backend, ...versions });
}

/**
 * One set of examples' features on this backend. The features task's
 * fingerprint chains the data, the base as it is (the plan's, or as a
 * fine-tuning stage left it) and the weightless head layers folded into
 * extraction — not the head that trains on them. The examples' indexes are
 * in the key too, so an entry holding other rows of the same count (another
 * fold's split, say) is never read as these.
 */
export function featuresKey(
  task: FeaturesTask,
  split: string,
  backend: string,
  examples: readonly number[],
  versions: EngineVersions = ENGINE_VERSIONS,
): string {
  return fingerprint({ features: task.fingerprint, split, backend, examples: fingerprint(examples), ...versions });
}

/** Serialises a model's weights for the cache. */
export async function cachedWeights(
  model: tf.LayersModel,
): Promise<{ weightSpecs: tf.io.WeightsManifestEntry[]; weightData: Uint8Array }> {
  const { data, specs } = await tf.io.encodeWeights(
    model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })),
  );
  return { weightSpecs: specs, weightData: new Uint8Array(data as ArrayBuffer) };
}

export function decodeCachedWeights(stage: CachedStage): tf.NamedTensorMap {
  const bytes = stage.weightData;
  return tf.io.decodeWeights(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    stage.weightSpecs,
  );
}

/**
 * Keeps something in the stage cache, which is an optimisation: when the
 * write fails (a full disk, a read-only folder) the run goes on and a
 * warning says what was not kept and why.
 */
export async function keepInCache(what: string, write: () => Promise<void>, onEvent: EventListener): Promise<void> {
  try {
    await write();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const reason =
      e.code === 'ENOSPC'
        ? 'no space left on the device'
        : e.code === 'EDQUOT'
          ? 'the disk quota is used up'
          : e.code === 'EROFS'
            ? 'the file system is read-only'
            : e.code === 'EACCES' || e.code === 'EPERM'
              ? 'permission denied'
              : (e.code ?? e.message);
    onEvent({
      type: 'log',
      level: 'warn',
      message: `the stage cache could not keep ${what} (${reason}${e.path ? `: ${e.path}` : ''}); the run goes on without it`,
    });
  }
}

/** The cache's claim on an entry, waiting (and saying so) while another run holds it; stopped by the run's signal as the run is. */
export async function claimEntry(
  cache: StageCache,
  kind: 'features' | 'stages',
  key: string,
  holderIs: string,
  options: { onEvent: EventListener; signal?: AbortSignal },
): Promise<() => Promise<void>> {
  try {
    return await cache.claim(kind, key, {
      ...(options.signal ? { signal: options.signal } : {}),
      onWait: (holder) =>
        options.onEvent({ type: 'log', level: 'info', message: `waiting for ${holder}, which is ${holderIs}` }),
    });
  } catch (error) {
    if (options.signal?.aborted) throw new RunInterrupted();
    throw error;
  }
}
