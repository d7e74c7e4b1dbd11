import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { CachedStage } from '../../src/engine/cache/stage-cache.js';
import { writeFolderManifest } from '../../src/store/file-manifest.js';
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

  it('a batch of writes evicts once, after the last, and leaves the cache within its size', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-cache-'));
    const cache = new StageCacheFiles(root, 14 * 1024);
    let evictions = 0;
    const evict = cache.evict.bind(cache);
    cache.evict = () => {
      evictions++;
      return evict();
    };
    const data = new Float32Array(1024);
    await cache.writeManyFeatures([1, 2, 3, 4, 5].map((n) => ({ key: key(n), shape: [1024], data })));
    assert.equal(evictions, 1);
    const dir = path.join(root, 'features');
    const bytes = readdirSync(dir)
      .flatMap((entry) => readdirSync(path.join(dir, entry)).map((file) => statSync(path.join(dir, entry, file)).size))
      .reduce((a, b) => a + b, 0);
    assert.ok(bytes <= 14 * 1024, `${bytes} bytes kept`);
    assert.ok(readdirSync(dir).length >= 2, 'the newest entries stay');
  });
});

describe('eviction and the temporary entries writers left: the cache is shared by every machine sharing the runs folder', () => {
  /** This machine in a temporary entry's name, as the cache writes it. */
  const here = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
  const livePid = process.ppid;
  const cases: {
    name: string;
    /** `<key>.<pid>.<host>.<random>.tmp`, or an older tlpipe's `<key>.<pid>.<random>.tmp`. */
    entry: string;
    /** How long since it last changed. */
    ageMs: number;
    kept: boolean;
  }[] = [
    {
      name: 'this machine, its writer alive: being written, kept',
      entry: `${livePid}.${here}.0a0b`,
      ageMs: 0,
      kept: true,
    },
    { name: 'this machine, its writer gone: removed', entry: `${deadPid}.${here}.0a0b`, ageMs: 0, kept: false },
    {
      name: 'an older name, no machine: this one, its writer gone: removed',
      entry: `${deadPid}.0a0b0c0d`,
      ageMs: 0,
      kept: false,
    },
    {
      name: 'another machine, changed a minute ago: being written there, kept (its pid means nothing here)',
      entry: `${deadPid}.${here === 'deadbeef' ? 'feedbeef' : 'deadbeef'}.0a0b`,
      ageMs: 60_000,
      kept: true,
    },
    {
      name: 'another machine, unchanged for ten minutes: its writer is gone, removed',
      entry: `${livePid}.${here === 'deadbeef' ? 'feedbeef' : 'deadbeef'}.0a0b`,
      ageMs: 600_000,
      kept: false,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-evict-tmp-'));
      const temporary = path.join(root, 'features', `${key(1)}.${c.entry}.tmp`);
      mkdirSync(temporary, { recursive: true });
      writeFileSync(path.join(temporary, 'data.bin'), new Uint8Array(64));
      const then = new Date(Date.now() - c.ageMs);
      for (const file of [path.join(temporary, 'data.bin'), temporary]) utimesSync(file, then, then);
      await new StageCacheFiles(root).evict();
      assert.equal(existsSync(temporary), c.kept);
      rmSync(root, { recursive: true, force: true });
    });
  }
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
    await (
      await waiting
    )();
    assert.equal(second, true);
    assert.equal(
      existsSync(path.join(cache.root, 'features', `${key(1)}.claim`)),
      false,
      'released claims leave no file',
    );
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
    writeFileSync(
      path.join(cache.root, 'features', `${key(3)}.claim`),
      JSON.stringify({
        pid: 4194305,
        host: hostname(),
        since: new Date().toISOString(),
        by: 'stage cache',
        token: 'x',
      }),
    );
    // Not a time bound (a loaded machine makes any one slow): a claim that waits says whose claim it waits on, and this one must not.
    const waitedOn: string[] = [];
    await (
      await cache.claim('features', key(3), { onWait: (holder) => waitedOn.push(holder) })
    )();
    assert.deepEqual(waitedOn, []);
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

describe('a damaged stage cache entry is removed and rebuilt, never used', () => {
  /** One layer's weights as a run caches them: a 2×3 kernel and a bias of 3, float32. */
  const stage = (): CachedStage => ({
    kind: 'head',
    weightSpecs: [
      { name: 'dense/kernel', shape: [2, 3], dtype: 'float32' },
      { name: 'dense/bias', shape: [3], dtype: 'float32' },
    ],
    weightData: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 0.5, 0.25, 0.125]).buffer),
    random: { shuffle: 7 },
    completedStages: [{ name: 'head', epochs: 1, epochsRun: 1, stoppedEarly: false, lastLearningRate: 0.01 }],
    metrics: [
      // In-range source shares (a run with dataset.source) read back as written.
      {
        stage: 'head',
        epoch: 1,
        stageEpoch: 1,
        loss: 0.9,
        accuracy: 0.5,
        lr: 0.01,
        seconds: 1,
        sourceShare: 0.4,
        sourceWeightShare: 0.2,
      },
    ],
  });
  const editJson = (file: string, edit: (value: any) => unknown): void =>
    writeFileSync(file, JSON.stringify(edit(JSON.parse(readFileSync(file, 'utf8')))));
  /** Edits meta.json and writes a manifest matching the edit, so only the shape check can find it. */
  const editBehindManifest =
    (edit: (value: any) => unknown) =>
    async (entry: string): Promise<void> => {
      editJson(path.join(entry, 'meta.json'), edit);
      await writeFolderManifest(entry);
    };

  const cases: {
    name: string;
    kind: 'features' | 'stages';
    damage: (entry: string) => void | Promise<void>;
    says: RegExp;
  }[] = [
    {
      name: 'features: meta.json shape edited (not in the manifest any more)',
      kind: 'features',
      damage: (e) => editJson(path.join(e, 'meta.json'), (m) => ({ ...m, shape: [2, 2] })),
      says: /meta\.json does not match the sha256/,
    },
    {
      name: 'features: shape that does not account for the bytes, manifest rewritten to match',
      kind: 'features',
      damage: editBehindManifest((m) => ({ ...m, shape: [3, 4] })),
      says: /shape \[3, 4\] needs 48 bytes, data\.bin has 32/,
    },
    {
      name: 'features: a zero, negative or fractional dimension',
      kind: 'features',
      damage: editBehindManifest((m) => ({ ...m, shape: [0, 8] })),
      says: /\/shape\/0 must be >= 1/,
    },
    {
      name: 'features: meta.json is [] behind a matching manifest',
      kind: 'features',
      damage: editBehindManifest(() => []),
      says: /meta\.json: the whole file must be object/,
    },
    {
      name: 'features: data.bin a link to /dev/zero',
      kind: 'features',
      damage: (e) => {
        rmSync(path.join(e, 'data.bin'));
        symlinkSync('/dev/zero', path.join(e, 'data.bin'));
      },
      says: /data\.bin is a link that leads outside/,
    },
    {
      name: 'features: data.bin a FIFO',
      kind: 'features',
      damage: (e) => {
        rmSync(path.join(e, 'data.bin'));
        execFileSync('mkfifo', [path.join(e, 'data.bin')]);
      },
      says: /data\.bin is a named pipe \(FIFO\), not a file/,
    },
    {
      name: 'features: data.bin cut short',
      kind: 'features',
      damage: (e) => truncateSync(path.join(e, 'data.bin'), 12),
      says: /data\.bin has 12 bytes, 32 when it was written/,
    },
    {
      name: 'features: manifest.json is not a manifest',
      kind: 'features',
      damage: (e) => writeFileSync(path.join(e, 'manifest.json'), 'null'),
      says: /manifest\.json is damaged/,
    },
    {
      name: 'features: an entry of an older tlpipe, without a manifest',
      kind: 'features',
      damage: (e) => rmSync(path.join(e, 'manifest.json')),
      says: /has no manifest\.json/,
    },
    {
      name: 'features: the entry is a file, not a folder',
      kind: 'features',
      damage: (e) => {
        rmSync(e, { recursive: true });
        writeFileSync(e, 'x');
      },
      says: /is not a folder/,
    },
    {
      name: 'stages: invented metrics in meta.json',
      kind: 'stages',
      damage: (e) =>
        editJson(path.join(e, 'meta.json'), (m) => ({ ...m, metrics: [{ ...m.metrics[0], accuracy: 0.7 }] })),
      says: /meta\.json does not match the sha256/,
    },
    {
      name: 'stages: weight shapes that do not account for the bytes, manifest rewritten',
      kind: 'stages',
      damage: editBehindManifest((m) => ({
        ...m,
        weightSpecs: [{ ...m.weightSpecs[0], shape: [4, 3] }, m.weightSpecs[1]],
      })),
      says: /meta\.json's weightSpecs: weight \S+ declares \[4,3\] float32, more than the 36 bytes there are/,
    },
    {
      name: 'stages: a metric that is a string, manifest rewritten',
      kind: 'stages',
      damage: editBehindManifest((m) => ({ ...m, metrics: [{ ...m.metrics[0], loss: 'low' }] })),
      says: /\/metrics\/0\/loss must be number/,
    },
    {
      name: 'stages: a source share above 1, manifest rewritten',
      kind: 'stages',
      damage: editBehindManifest((m) => ({ ...m, metrics: [{ ...m.metrics[0], sourceShare: 1.5 }] })),
      says: /\/metrics\/0\/sourceShare must be <= 1/,
    },
    {
      name: 'stages: a negative source weight share, manifest rewritten',
      kind: 'stages',
      damage: editBehindManifest((m) => ({ ...m, metrics: [{ ...m.metrics[0], sourceWeightShare: -0.1 }] })),
      says: /\/metrics\/0\/sourceWeightShare must be >= 0/,
    },
    {
      name: 'stages: a domain accuracy above 1, manifest rewritten',
      kind: 'stages',
      damage: editBehindManifest((m) => ({ ...m, metrics: [{ ...m.metrics[0], domain_accuracy: 2 }] })),
      says: /\/metrics\/0\/domain_accuracy must be <= 1/,
    },
    {
      name: 'stages: a weight dtype tfjs does not write, manifest rewritten',
      kind: 'stages',
      damage: editBehindManifest((m) => ({
        ...m,
        weightSpecs: [{ ...m.weightSpecs[0], dtype: 'complex64' }, m.weightSpecs[1]],
      })),
      says: /\/weightSpecs\/0\/dtype/,
    },
    {
      name: 'stages: completedStages missing, manifest rewritten',
      kind: 'stages',
      damage: editBehindManifest(({ completedStages: _c, ...m }) => m),
      says: /must have required property 'completedStages'/,
    },
    {
      name: 'stages: data.bin a link to /dev/zero',
      kind: 'stages',
      damage: (e) => {
        rmSync(path.join(e, 'data.bin'));
        symlinkSync('/dev/zero', path.join(e, 'data.bin'));
      },
      says: /data\.bin is a link that leads outside/,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const told: string[] = [];
      const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-damaged-'));
      const cache = new StageCacheFiles(root, undefined, (message) => told.push(message));
      const features = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
      const write = (): Promise<void> =>
        c.kind === 'features' ? cache.writeFeatures(key(1), [2, 4], features) : cache.writeStage(key(1), stage());
      const read = (): Promise<unknown> =>
        c.kind === 'features' ? cache.readFeatures(key(1)) : cache.readStage(key(1));
      await write();
      const entry = path.join(root, c.kind, key(1));
      assert.deepEqual(
        Object.keys(JSON.parse(readFileSync(path.join(entry, 'manifest.json'), 'utf8')).files).sort(),
        ['data.bin', 'meta.json'],
        'the manifest covers the metadata too',
      );
      assert.ok(await read(), 'intact, the entry is used');
      await c.damage(entry);
      const started = Date.now();
      assert.equal(await read(), undefined, 'a damaged entry is never used');
      assert.ok(Date.now() - started < 60_000, 'refused without waiting on it');
      assert.equal(told.length, 1, told.join('\n'));
      assert.match(told[0]!, new RegExp(`^the stage cache entry ${entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `));
      assert.match(told[0]!, c.says);
      assert.match(told[0]!, /it was removed and is computed again$/);
      assert.equal(existsSync(entry), false, 'removed, so the next run does not meet it again');
      assert.equal(await read(), undefined);
      assert.equal(told.length, 1, 'an absent entry is not damage');
      await write();
      const again = await read();
      assert.ok(again, 'rebuilt, it is used');
      if (c.kind === 'features')
        assert.deepEqual(Array.from((again as { data: Float32Array }).data), Array.from(features));
      else assert.deepEqual((again as CachedStage).metrics, stage().metrics);
    });
  }

  it('eviction counts every file of an entry, its manifest included', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-evict-'));
    const cache = new StageCacheFiles(root);
    await cache.writeFeatures(key(1), [1024], new Float32Array(1024));
    const entry = path.join(root, 'features', key(1));
    const bytes = ['data.bin', 'meta.json', 'manifest.json'].reduce(
      (sum, name) => sum + statSync(path.join(entry, name)).size,
      0,
    );
    // Just room for the entry with its manifest: kept; one byte less: evicted.
    await new StageCacheFiles(root, bytes).evict();
    assert.ok(existsSync(entry));
    await new StageCacheFiles(root, bytes - 1).evict();
    assert.equal(existsSync(entry), false);
  });
});
