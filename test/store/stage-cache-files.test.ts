import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { StageCacheFiles } from '../../src/store/stage-cache-files.js';

const key = (n: number): string => n.toString(16).padStart(64, '0');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the stage cache stays within its size', () => {
  it('evicts the least recently used entries first', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-cache-'));
    // Room for about three 4 KiB entries.
    const cache = new StageCacheFiles(root, 14 * 1024);
    const data = new Float32Array(1024);
    for (const n of [1, 2, 3]) {
      await cache.writeFeatures(key(n), [1024], data);
      await sleep(20);
    }
    // Entry 1 is read, so entry 2 is now the least recently used.
    assert.ok(await cache.readFeatures(key(1)));
    await sleep(20);
    await cache.writeFeatures(key(4), [1024], data);
    const present = [1, 2, 3, 4].filter((n) => existsSync(path.join(root, 'features', key(n))));
    assert.deepEqual(present, [1, 3, 4]);
    assert.deepEqual(Array.from((await cache.readFeatures(key(4)))!.data.slice(0, 2)), [0, 0]);
  });
});

describe('single-flight: a claimed entry is computed once', () => {
  const fresh = (): StageCacheFiles => new StageCacheFiles(mkdtempSync(path.join(tmpdir(), 'tlpipe-claim-')));

  it('a second claim waits, saying who holds it, until the first is released', async () => {
    const cache = fresh();
    const release = await cache.claim('features', key(1), {});
    const told: string[] = [];
    let second = false;
    const waiting = cache.claim('features', key(1), { onWait: (holder) => told.push(holder) }).then((r) => {
      second = true;
      return r;
    });
    await sleep(600);
    assert.equal(second, false, 'the second claim waited');
    assert.match(told[0] ?? '', new RegExp(`^pid ${process.pid} \\(stage cache\\) on .+ since `));
    await release();
    await (await waiting)();
    assert.equal(second, true);
    assert.equal(existsSync(path.join(cache.root, 'features', `${key(1)}.claim`)), false, 'released claims leave no file');
  });

  it('claims on different entries do not wait for each other', async () => {
    const cache = fresh();
    const a = await cache.claim('stages', key(1), {});
    const b = await cache.claim('stages', key(2), {});
    await Promise.all([a(), b()]);
  });

  it('a claim whose process died is taken over at once', async () => {
    const cache = fresh();
    mkdirSync(path.join(cache.root, 'features'), { recursive: true });
    // A pid that is not running (the largest a Linux pid can be, plus one).
    writeFileSync(path.join(cache.root, 'features', `${key(3)}.claim`), JSON.stringify({ pid: 4194305, host: hostname(), since: new Date().toISOString(), by: 'stage cache', token: 'x' }));
    const started = Date.now();
    await (await cache.claim('features', key(3), {}))();
    assert.ok(Date.now() - started < 2000);
  });

  it('the wait stops with the signal', async () => {
    const cache = fresh();
    const release = await cache.claim('features', key(4), {});
    const controller = new AbortController();
    const waiting = cache.claim('features', key(4), { signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(waiting);
    await release();
  });
});
