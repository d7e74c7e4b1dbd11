import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { describeOwner, isLocked, LOCK_FILE, RunLock, type LockOwner } from '../../src/store/run-lock.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-run-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const folder = (): string => {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  return dir;
};

/** A process that has ended. */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
const owner = (changes: Partial<LockOwner>): LockOwner => ({
  pid: process.ppid,
  host: hostname(),
  since: '2026-01-01T00:00:00.000Z',
  by: 'run',
  token: 'feedc0de',
  ...changes,
});
const minutesAgo = (file: string, minutes: number): void => {
  const then = new Date(Date.now() - minutes * 60_000);
  utimesSync(file, then, then);
};

describe("the run folder's lock: one owner at a time", () => {
  it('taken, refused to a second taker who is told the owner, given up, taken again', async () => {
    const dir = folder();
    const first = await RunLock.acquire(dir, 'run');
    assert.ok(first.ok);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')), first.lock.owner);
    const second = await RunLock.acquire(dir, 'resume');
    assert.deepEqual(second, { ok: false, owner: first.lock.owner });
    await first.lock.release();
    assert.deepEqual(readdirSync(dir), []);
    const third = await RunLock.acquire(dir, 'resume');
    assert.ok(third.ok);
    assert.equal(third.lock.owner.by, 'resume');
  });

  // What a lock left behind is worth: taken over when its owner is gone, respected while it may be alive.
  const left: { name: string; make: (file: string) => void; takenOver: boolean }[] = [
    {
      name: 'its process ended on this host',
      make: (f) => writeFileSync(f, JSON.stringify(owner({ pid: deadPid }))),
      takenOver: true,
    },
    {
      name: 'its process alive on this host',
      make: (f) => writeFileSync(f, JSON.stringify(owner({}))),
      takenOver: false,
    },
    {
      name: "another host's, touched a minute ago (its process cannot be checked from here)",
      make: (f) => (writeFileSync(f, JSON.stringify(owner({ host: 'elsewhere', pid: deadPid }))), minutesAgo(f, 1)),
      takenOver: false,
    },
    {
      name: "another host's, untouched for ten minutes (its heartbeat stopped)",
      make: (f) => (writeFileSync(f, JSON.stringify(owner({ host: 'elsewhere' }))), minutesAgo(f, 10)),
      takenOver: true,
    },
    {
      name: 'garbage just written (a takeover may be writing it)',
      make: (f) => writeFileSync(f, 'not json'),
      takenOver: false,
    },
    {
      name: 'garbage a minute old',
      make: (f) => (writeFileSync(f, '{"pid": "x"}'), minutesAgo(f, 1)),
      takenOver: true,
    },
  ];
  for (const c of left) {
    it(`a lock left by ${c.name}: ${c.takenOver ? 'taken over' : 'respected'}`, async () => {
      const dir = folder();
      c.make(path.join(dir, LOCK_FILE));
      const taken = await RunLock.acquire(dir, 'resume');
      assert.equal(taken.ok, c.takenOver);
      assert.equal(await isLocked(dir), true);
      if (taken.ok)
        assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).token, taken.lock.owner.token);
    });
  }

  it('release leaves a lock someone else took over in place', async () => {
    const dir = folder();
    const mine = await RunLock.acquire(dir, 'run');
    assert.ok(mine.ok);
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(owner({ token: 'other' })));
    await mine.lock.release();
    assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).token, 'other');
  });

  it('a folder where the lock file belongs: acquire says so, not that another process holds the run', async () => {
    const dir = folder();
    mkdirSync(path.join(dir, LOCK_FILE));
    writeFileSync(path.join(dir, LOCK_FILE, 'kept.txt'), 'a user file');
    await assert.rejects(RunLock.acquire(dir, 'resume'), /is a folder where the lock file belongs/);
    assert.equal(
      readFileSync(path.join(dir, LOCK_FILE, 'kept.txt'), 'utf8'),
      'a user file',
      'nothing of the folder is removed',
    );
  });

  it('a folder without a lock is not locked', async () => assert.equal(await isLocked(folder()), false));

  it('the owner as a sentence', () => {
    assert.equal(
      describeOwner(owner({ pid: 12, host: 'h', by: 'resume' })),
      'pid 12 (resume) on h since 2026-01-01T00:00:00.000Z',
    );
    assert.equal(describeOwner(undefined), 'another process');
  });
});
