import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stats } from 'node:fs';
import { lstat, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { CachedStage, StageCache } from '../engine/cache/stage-cache.js';
import { MANIFEST_FILE, readVerifiedFiles, writeFolderManifest } from './file-manifest.js';
import { shapeProblem } from './read-back-shape.js';
import { describeOwner, RunLock } from './run-lock.js';
import { thisHost } from './run-record.js';
import { HEARTBEAT_MS, HEARTBEAT_STALE_MS, isAlive } from './run-status.js';
import { makeDirs } from '../platform/make-dirs.js';
import { DTYPE_BYTES, weightSpecsProblem } from '../platform/weight-specs.js';
import { setting } from '../platform/settings.js';

const META_FILE = 'meta.json';
const DATA_FILE = 'data.bin';

/**
 * This machine in a temporary entry's name, `<key>.<pid>.<host>.<random>.tmp`:
 * the cache sits beside the runs, which several machines may share, and a
 * pid says whether its writer lives only on the machine it ran on.
 */
const HOST_TAG = createHash('sha256').update(thisHost()).digest('hex').slice(0, 8);
/** A temporary entry: its writer's pid, and its machine (none in the name an older tlpipe gave it: this one). */
const TEMPORARY = /^[0-9a-f]{64}\.(\d+)\.(?:([0-9a-f]{8})\.)?[0-9a-f]+\.tmp$/;

/** The newest change to a folder or a file directly in it: a writer on another machine shows it lives by this alone. */
async function lastChanged(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const times = await Promise.all(
    [dir, ...names.map((n) => path.join(dir, n))].map((file) =>
      lstat(file).then(
        (s) => s.mtimeMs,
        () => 0,
      ),
    ),
  );
  return Math.max(...times);
}

/** The bytes of the files directly in a folder (a cache entry has three). */
async function folderBytes(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(
    names.map((n) =>
      lstat(path.join(dir, n)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

const PositiveInteger = Type.Integer({ minimum: 1 });
/** A metric JSON could not hold (NaN, a diverged loss) was written as null. */
const Metric = Type.Union([Type.Number(), Type.Null()]);
/** A loss is never negative (null: it was NaN). */
const Loss = Type.Union([Type.Number({ minimum: 0 }), Type.Null()]);
/** An accuracy is a fraction (null: it was NaN). */
const Fraction = Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()]);

export const CachedFeaturesMetaSchema = Type.Object({
  shape: Type.Array(PositiveInteger, { minItems: 1, maxItems: 8 }),
});

const WeightSpec = Type.Object({
  name: Type.String({ minLength: 1 }),
  shape: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 8 }),
  dtype: Type.Union(Object.keys(DTYPE_BYTES).map((d) => Type.Literal(d))),
});
const EpochRow = Type.Object({
  stage: Type.String(),
  epoch: PositiveInteger,
  stageEpoch: PositiveInteger,
  loss: Metric,
  accuracy: Metric,
  lr: Metric,
  seconds: Type.Number({ minimum: 0 }),
  val_loss: Type.Optional(Metric),
  val_accuracy: Type.Optional(Metric),
  val_meanIoU: Type.Optional(Metric),
  coral_loss: Type.Optional(Loss),
  domain_loss: Type.Optional(Loss),
  domain_accuracy: Type.Optional(Fraction),
  sourceShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  sourceWeightShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  learningRates: Type.Optional(Type.Record(Type.String(), Metric)),
});
export const CachedStageMetaSchema = Type.Object({
  kind: Type.Union([Type.Literal('head'), Type.Literal('full')]),
  weightSpecs: Type.Array(WeightSpec),
  random: Type.Record(Type.String(), Type.Number()),
  completedStages: Type.Array(
    Type.Object({
      name: Type.String(),
      epochs: Type.Integer({ minimum: 0 }),
      epochsRun: Type.Integer({ minimum: 0 }),
      stoppedEarly: Type.Boolean(),
      restoredEpoch: Type.Optional(Type.Integer({ minimum: 0 })),
      lastLearningRate: Metric,
    }),
  ),
  metrics: Type.Array(EpochRow),
});

const elements = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The features' shape accounts for every byte of the data, 4 a float. */
function featuresFit(meta: Static<typeof CachedFeaturesMetaSchema>, data: Uint8Array): string | undefined {
  const bytes = elements(meta.shape) * 4;
  return bytes === data.byteLength
    ? undefined
    : `shape [${meta.shape.join(', ')}] needs ${bytes} bytes, ${DATA_FILE} has ${data.byteLength}`;
}

/** The weight specs account for every byte of the data, in order, with no name twice. */
function weightsFit(meta: Static<typeof CachedStageMetaSchema>, data: Uint8Array): string | undefined {
  return weightSpecsProblem(meta.weightSpecs, data.byteLength, `${META_FILE}'s weightSpecs`);
}

/**
 * The stage cache on disk, beside the runs it serves: <runs>/.cache/
 * features/<key>/ and stages/<key>/. Each entry is written to a temporary
 * folder and renamed into place whole, its manifest.json (sha256 and size
 * of meta.json and data.bin) written last. An entry is used only when both
 * files match the manifest and meta.json has the shape its kind has and
 * accounts for every byte of the data; anything else (a flipped byte, an
 * edited meta.json, a link to a device, an entry of an older tlpipe without
 * a manifest) is removed and treated as absent, so it is rebuilt, never
 * used, and the next run finds the rebuilt one.
 */
export class StageCacheFiles implements StageCache {
  /**
   * The cache keeps under `maxBytes` ($TLPIPE_CACHE_MAX_MB, 4 GiB by
   * default): after each write (each batch of writes), the least recently used entries go first.
   * `onDamaged` hears of each entry removed as damaged (a run says it).
   */
  constructor(
    readonly root: string,
    readonly maxBytes = setting('TLPIPE_CACHE_MAX_MB') * 2 ** 20,
    private readonly onDamaged?: (message: string) => void,
  ) {}

  async readFeatures(key: string): Promise<{ shape: number[]; data: Float32Array } | undefined> {
    const entry = await this.read('features', key, CachedFeaturesMetaSchema, featuresFit);
    if (!entry) return undefined;
    const { meta, data } = entry;
    // A Float32Array needs its start on a multiple of 4; a small buffer may sit anywhere in Node's pool.
    const aligned = data.byteOffset % 4 === 0 ? data : data.slice();
    return { shape: meta.shape, data: new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4) };
  }

  writeFeatures(key: string, shape: number[], data: Float32Array): Promise<void> {
    return this.write('features', key, { shape }, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /**
   * Eviction lists and stats every entry of the cache: once per entry of a
   * batch it made n writes cost n × (entries in the cache). Once after the
   * last keeps the cache within its size all the same.
   */
  async writeManyFeatures(entries: readonly { key: string; shape: number[]; data: Float32Array }[]): Promise<void> {
    try {
      for (const { key, shape, data } of entries)
        await this.write(
          'features',
          key,
          { shape },
          new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
          false,
        );
    } finally {
      if (entries.length > 0) await this.evict();
    }
  }

  async readStage(key: string): Promise<CachedStage | undefined> {
    const entry = await this.read('stages', key, CachedStageMetaSchema, weightsFit);
    return entry ? { ...(entry.meta as Omit<CachedStage, 'weightData'>), weightData: entry.data } : undefined;
  }

  writeStage(key: string, stage: CachedStage): Promise<void> {
    const { weightData, ...meta } = stage;
    return this.write('stages', key, meta, weightData);
  }

  /**
   * The entry's claim is `<kind>/<key>.claim`, a run-folder lock by another
   * name: its owner's pid and host, kept fresh while it computes, stale when
   * that process is gone. The wait is bounded by $TLPIPE_CACHE_WAIT_S (6 h)
   * and by the signal; a cache that cannot hold a claim (read-only) lets
   * the run compute the entry itself, as the cache does with every failure.
   */
  async claim(
    kind: 'features' | 'stages',
    key: string,
    wait: { signal?: AbortSignal; onWait?: (holder: string) => void },
  ): Promise<() => Promise<void>> {
    const dir = path.dirname(this.dir(kind, key));
    const unclaimed = async (): Promise<void> => undefined;
    const deadline = Date.now() + setting('TLPIPE_CACHE_WAIT_S') * 1000;
    let told = false;
    for (;;) {
      const got = await makeDirs(dir)
        .then(() => RunLock.acquire(dir, 'stage cache', `${key}.claim`))
        .catch(() => undefined);
      if (!got) return unclaimed;
      if (got.ok) {
        const beat = setInterval(() => void got.lock.touch(), HEARTBEAT_MS);
        beat.unref();
        return async () => {
          clearInterval(beat);
          await got.lock.release();
        };
      }
      if (!told) wait.onWait?.(describeOwner(got.owner));
      told = true;
      if (Date.now() > deadline) return unclaimed;
      // Rejects when the signal aborts: the engine turns that into the run's interruption.
      await sleep(250, undefined, wait.signal ? { signal: wait.signal } : {});
    }
  }

  /**
   * Removes least recently used entries until the cache fits `maxBytes`.
   * Temporary entries a killed process left (its pid gone, or, written on
   * another machine sharing the folder, unchanged for HEARTBEAT_STALE_MS)
   * are removed first; those still being written count against the limit.
   */
  async evict(): Promise<void> {
    const entries: { dir: string; bytes: number; used: number }[] = [];
    let writing = 0;
    for (const kind of ['features', 'stages']) {
      for (const name of await readdir(path.join(this.root, kind)).catch(() => [] as string[])) {
        const dir = path.join(this.root, kind, name);
        const temporary = TEMPORARY.exec(name);
        if (temporary) {
          const pid = Number(temporary[1]);
          // Written here: while its process lives. On another machine: while it keeps changing.
          const inProgress =
            temporary[2] === undefined || temporary[2] === HOST_TAG
              ? isAlive(pid) || pid === process.pid
              : Date.now() - (await lastChanged(dir)) <= HEARTBEAT_STALE_MS;
          if (inProgress) writing += await folderBytes(dir);
          else await rm(dir, { recursive: true, force: true });
          continue;
        }
        if (!/^[0-9a-f]{64}$/.test(name)) continue;
        // Every file of the entry counts (its manifest too); a damaged one counts until a read removes it.
        const used = await stat(path.join(dir, META_FILE)).then(
          (s) => s.mtimeMs,
          () =>
            lstat(dir).then(
              (s) => s.mtimeMs,
              () => undefined,
            ),
        );
        if (used !== undefined) entries.push({ dir, bytes: await folderBytes(dir), used });
      }
    }
    let total = writing + entries.reduce((sum, e) => sum + e.bytes, 0);
    for (const entry of entries.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      await rm(entry.dir, { recursive: true, force: true });
      total -= entry.bytes;
    }
  }

  private dir(kind: string, key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`not a cache key: ${key}`);
    return path.join(this.root, kind, key);
  }

  /**
   * An entry, verified against its manifest (meta.json included) and its
   * meta checked for the shape its kind has; anything else is damage: the
   * entry is removed, the listener told, and the caller rebuilds it. A
   * missing entry is absent, silently.
   */
  private async read<S extends TSchema>(
    kind: 'features' | 'stages',
    key: string,
    schema: S,
    consistent: (meta: Static<S>, data: Uint8Array) => string | undefined,
  ): Promise<{ meta: Static<S>; data: Uint8Array } | undefined> {
    const dir = this.dir(kind, key);
    const found = await lstat(dir).catch(() => undefined);
    if (!found) return undefined;
    const damage = await this.problemOf(dir, found, schema, consistent);
    if (typeof damage !== 'string') {
      // Recently used: the last to be evicted.
      const now = new Date();
      await utimes(path.join(dir, META_FILE), now, now).catch(() => undefined);
      return damage;
    }
    // Never used; the caller computes it again and rewrites it.
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    this.onDamaged?.(`the stage cache entry ${dir} ${damage}; it was removed and is computed again`);
    return undefined;
  }

  private async problemOf<S extends TSchema>(
    dir: string,
    found: Stats,
    schema: S,
    consistent: (meta: Static<S>, data: Uint8Array) => string | undefined,
  ): Promise<string | { meta: Static<S>; data: Uint8Array }> {
    if (!found.isDirectory()) return 'is not a folder';
    const verified = await readVerifiedFiles(dir, [META_FILE, DATA_FILE], {
      kind: 'binary',
      what: 'stage cache entry',
      within: this.root,
    });
    if (!verified.ok)
      return verified.missingManifest
        ? `has no ${MANIFEST_FILE} (an entry of an older tlpipe, or one left unfinished)`
        : `is damaged (${verified.problem})`;
    let meta: unknown;
    try {
      meta = JSON.parse(verified.files.get(META_FILE)!.toString('utf8'));
    } catch {
      return `is damaged (${META_FILE} is not JSON)`;
    }
    const data = verified.files.get(DATA_FILE)!;
    const problem = shapeProblem(schema, meta) ?? consistent(meta as Static<S>, data);
    return problem === undefined
      ? { meta: meta as Static<S>, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
      : `is damaged (${META_FILE}: ${problem})`;
  }

  private async write(kind: string, key: string, meta: object, data: Uint8Array, evict = true): Promise<void> {
    const dir = this.dir(kind, key);
    const temporary = `${dir}.${process.pid}.${HOST_TAG}.${randomBytes(4).toString('hex')}.tmp`;
    await makeDirs(temporary);
    try {
      await writeFile(path.join(temporary, DATA_FILE), data);
      await writeFile(path.join(temporary, META_FILE), JSON.stringify({ ...meta, bytes: data.byteLength }));
      // Last, so an entry with a manifest was written whole; it covers meta.json as well as the data.
      await writeFolderManifest(temporary);
      await rm(dir, { recursive: true, force: true });
      await rename(temporary, dir);
      if (evict) await this.evict();
    } catch (error) {
      await rm(temporary, { recursive: true, force: true });
      // Another run wrote the same entry (same key, same content) first.
      if (['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) return;
      throw error;
    }
  }
}
