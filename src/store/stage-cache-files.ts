import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import type { CachedStage, StageCache } from '../engine/cache/stage-cache.js';
import { describeOwner, RunLock } from './run-lock.js';
import { HEARTBEAT_MS, isAlive } from './run-status.js';
import { makeDirs } from '../platform/make-dirs.js';

/** The bytes of the files directly in a folder (a cache entry has two). */
async function folderBytes(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(names.map((n) => stat(path.join(dir, n)).then((s) => s.size, () => 0)));
  return sizes.reduce((a, b) => a + b, 0);
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * The stage cache on disk, beside the runs it serves: <runs>/.cache/
 * features/<key>/ and stages/<key>/. Each entry is written to a temporary
 * folder and renamed into place whole; its meta.json holds the sha256 of its
 * data, and an entry whose data does not match (or cannot be read) is
 * removed and treated as absent, so it is rebuilt, never used.
 */
export class StageCacheFiles implements StageCache {
  /**
   * The cache keeps under `maxBytes` ($TLPIPE_CACHE_MAX_MB, 4 GiB by
   * default): after each write, the least recently used entries go first.
   */
  constructor(
    readonly root: string,
    readonly maxBytes = Number(process.env['TLPIPE_CACHE_MAX_MB'] ?? 4096) * 2 ** 20,
  ) {}

  async readFeatures(key: string): Promise<{ shape: number[]; data: Float32Array } | undefined> {
    const entry = await this.read<{ shape: number[] }>('features', key);
    if (!entry) return undefined;
    const { meta, data } = entry;
    return { shape: meta.shape, data: new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4) };
  }

  writeFeatures(key: string, shape: number[], data: Float32Array): Promise<void> {
    return this.write('features', key, { shape }, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  async readStage(key: string): Promise<CachedStage | undefined> {
    const entry = await this.read<Omit<CachedStage, 'weightData'>>('stages', key);
    return entry ? { ...entry.meta, weightData: entry.data } : undefined;
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
  async claim(kind: 'features' | 'stages', key: string, wait: { signal?: AbortSignal; onWait?: (holder: string) => void }): Promise<() => Promise<void>> {
    const dir = path.dirname(this.dir(kind, key));
    const unclaimed = async (): Promise<void> => undefined;
    const deadline = Date.now() + Number(process.env['TLPIPE_CACHE_WAIT_S'] ?? 6 * 3600) * 1000;
    let told = false;
    for (;;) {
      const got = await makeDirs(dir).then(() => RunLock.acquire(dir, 'stage cache', `${key}.claim`)).catch(() => undefined);
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
   * Temporary entries a killed process left (its pid gone) are removed
   * first; those still being written count against the limit.
   */
  async evict(): Promise<void> {
    const entries: { dir: string; bytes: number; used: number }[] = [];
    let writing = 0;
    for (const kind of ['features', 'stages']) {
      for (const name of await readdir(path.join(this.root, kind)).catch(() => [] as string[])) {
        const dir = path.join(this.root, kind, name);
        const temporary = /^[0-9a-f]{64}\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
        if (temporary) {
          if (isAlive(Number(temporary[1])) || Number(temporary[1]) === process.pid) writing += await folderBytes(dir);
          else await rm(dir, { recursive: true, force: true });
          continue;
        }
        if (!/^[0-9a-f]{64}$/.test(name)) continue;
        const [meta, data] = await Promise.all([stat(path.join(dir, 'meta.json')).catch(() => undefined), stat(path.join(dir, 'data.bin')).catch(() => undefined)]);
        if (meta && data) entries.push({ dir, bytes: meta.size + data.size, used: meta.mtimeMs });
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

  private async read<M>(kind: string, key: string): Promise<{ meta: M; data: Uint8Array } | undefined> {
    const dir = this.dir(kind, key);
    let metaText: string;
    let data: Uint8Array;
    try {
      metaText = await readFile(path.join(dir, 'meta.json'), 'utf8');
      data = new Uint8Array(await readFile(path.join(dir, 'data.bin')));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      // The entry exists but cannot be read (permissions, a folder where a file should be, a disk error).
      throw new UserError(
        `cannot read the stage cache entry ${dir}: ${code ?? (error as Error).message}`,
        [],
        `delete it (rm -r ${dir}) or run with --no-cache`,
      );
    }
    try {
      const meta = JSON.parse(metaText) as M & { sha256: string };
      if (sha256(data) === meta.sha256) {
        // Recently used: the last to be evicted.
        const now = new Date();
        await utimes(path.join(dir, 'meta.json'), now, now).catch(() => undefined);
        return { meta, data };
      }
    } catch {
      // meta.json is not JSON: as corrupt as a digest mismatch.
    }
    // Corrupt: never used; the caller computes it again and rewrites it.
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }

  private async write(kind: string, key: string, meta: object, data: Uint8Array): Promise<void> {
    const dir = this.dir(kind, key);
    const temporary = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await makeDirs(temporary);
    try {
      await writeFile(path.join(temporary, 'data.bin'), data);
      await writeFile(path.join(temporary, 'meta.json'), JSON.stringify({ ...meta, sha256: sha256(data), bytes: data.byteLength }));
      await rm(dir, { recursive: true, force: true });
      await rename(temporary, dir);
      await this.evict();
    } catch (error) {
      await rm(temporary, { recursive: true, force: true });
      // Another run wrote the same entry (same key, same content) first.
      if (['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) return;
      throw error;
    }
  }
}
