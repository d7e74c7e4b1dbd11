import { randomBytes } from 'node:crypto';
import { link, lstat, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { readBackIfPresent } from '../platform/read-back.js';
import { isHostName, thisHost } from './run-record.js';
import { HEARTBEAT_STALE_MS } from './run-status.js';

/** `.lock` in a run folder: who owns the folder while a run or resume writes it. */
export const LOCK_FILE = '.lock';
/** A takeover is a few file operations; one older than this was left by a process that died in it. */
const TAKEOVER_STALE_MS = 30_000;

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  /** What holds it: `run` or `resume`. */
  by: string;
  token: string;
}

/** Whether a process with this pid exists on this host (this process included). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes `content` to `file` only if it does not exist, whole or not at all:
 * written beside it, then hard-linked into place — link fails when the name
 * is taken, so a reader never sees a half-written owner.
 */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content);
  try {
    await link(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

const isOwner = (value: unknown): value is LockOwner => {
  const v = value as Partial<Record<keyof LockOwner, unknown>> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger(v.pid) &&
    isHostName(v.host) &&
    typeof v.since === 'string' &&
    typeof v.by === 'string' &&
    typeof v.token === 'string'
  );
};

/** A lock is a line of JSON; anything bigger was not written by tlpipe. */
const LOCK_MAX_BYTES = 64 * 1024;

/**
 * Who holds the lock, and how long since it was touched; undefined when
 * there is none. Read back like every file: a lock that is not a regular
 * file of a sane size (a FIFO would block for ever, a link to /dev/zero
 * never end) was not written by tlpipe, and counts as stale, so the next
 * run or resume replaces it rather than hanging on it.
 */
async function readOwner(file: string): Promise<{ owner: LockOwner | undefined; ageMs: number } | undefined> {
  const stats = await lstat(file).catch(() => undefined);
  if (stats === undefined) return undefined;
  if (!stats.isFile()) return { owner: undefined, ageMs: Infinity };
  const bytes = await readBackIfPresent(path.dirname(file), path.basename(file), {
    what: 'run lock',
    maxBytes: LOCK_MAX_BYTES,
  }).catch(() => null);
  if (bytes === undefined) return undefined;
  if (bytes === null) return { owner: undefined, ageMs: Infinity };
  let owner: LockOwner | undefined;
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    owner = isOwner(value) ? value : undefined;
  } catch {
    owner = undefined;
  }
  return { owner, ageMs: Date.now() - stats.mtimeMs };
}

/** A lock whose owner is gone: its process has ended (on this host), or its heartbeat stopped long ago. */
function isStale(found: { owner: LockOwner | undefined; ageMs: number }): boolean {
  if (found.ageMs > HEARTBEAT_STALE_MS) return true;
  if (!found.owner) return found.ageMs > TAKEOVER_STALE_MS;
  return found.owner.host === thisHost() && !processExists(found.owner.pid);
}

export class RunLock {
  private constructor(
    private readonly file: string,
    readonly owner: LockOwner,
  ) {}

  /**
   * Takes the run folder's lock, or says who has it. A stale lock (its
   * process gone, or its heartbeat stopped) is taken over under a second,
   * short-lived lock, so that of several processes that find it stale at
   * once exactly one takes it; the others then find it fresh. `name` is the
   * lock file's (the stage cache locks an entry it computes the same way).
   */
  static async acquire(
    dir: string,
    by: string,
    name = LOCK_FILE,
  ): Promise<{ ok: true; lock: RunLock } | { ok: false; owner: LockOwner | undefined }> {
    const file = path.join(dir, name);
    const owner: LockOwner = {
      pid: process.pid,
      host: thisHost(),
      since: new Date().toISOString(),
      by,
      token: randomBytes(8).toString('hex'),
    };
    const content = JSON.stringify(owner) + '\n';
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await createExclusive(file, content)) return { ok: true, lock: new RunLock(file, owner) };
      const found = await readOwner(file);
      if (!found) continue; // released between our attempt and the read: try again
      if (!isStale(found)) return { ok: false, owner: found.owner };
      const takeover = path.join(dir, `${name}.takeover`);
      if (await createExclusive(takeover, content)) {
        try {
          // Under the takeover lock, look again: another process may have taken it over just before.
          const again = await readOwner(file);
          if (again && !isStale(again)) return { ok: false, owner: again.owner };
          await unlink(file).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return;
            // A folder (or anything unlink refuses) in the lock's place would make every attempt fail as if someone held it.
            throw new UserError(
              `${file} is ${error.code === 'EISDIR' ? 'a folder' : 'something tlpipe cannot remove'} where the lock file belongs (${error.code ?? error.message})`,
              [],
              'remove it, then try again: tlpipe writes that file itself',
            );
          });
          if (await createExclusive(file, content)) return { ok: true, lock: new RunLock(file, owner) };
        } finally {
          await unlink(takeover).catch(() => undefined);
        }
      } else {
        const holder = await stat(takeover).catch(() => undefined);
        // Its holder died in the middle of a takeover: clear it.
        if (holder && Date.now() - holder.mtimeMs > TAKEOVER_STALE_MS) await unlink(takeover).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
      }
    }
    const found = await readOwner(file);
    return { ok: false, owner: found?.owner };
  }

  /** Keeps the lock fresh; the run's heartbeat calls it. */
  async touch(): Promise<void> {
    const now = new Date();
    await utimes(this.file, now, now).catch(() => undefined);
  }

  /** Gives the folder up, if it is still this lock's. */
  async release(): Promise<void> {
    const found = await readOwner(this.file);
    if (found?.owner?.token === this.owner.token) await unlink(this.file).catch(() => undefined);
  }
}

/** Who holds a run folder, as a sentence: `pid 123 (resume) on host h since …`. */
export function describeOwner(owner: LockOwner | undefined): string {
  return owner ? `pid ${owner.pid} (${owner.by}) on ${owner.host} since ${owner.since}` : 'another process';
}

/** Whether a live process holds the run folder (for `run --resume`, which skips such runs). */
export async function isLocked(dir: string): Promise<boolean> {
  const found = await readOwner(path.join(dir, LOCK_FILE));
  return found !== undefined && !isStale(found);
}
