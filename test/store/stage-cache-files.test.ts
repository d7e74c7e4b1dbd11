import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
