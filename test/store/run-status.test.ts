import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunRecord } from '../../src/store/run-record.js';
import {
  effectiveStatus,
  HEARTBEAT_FILE,
  HEARTBEAT_STALE_MS,
  isAlive,
  overviewOf,
} from '../../src/store/run-status.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-run-status-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const folder = (): string => {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  return dir;
};

/** A process that has ended: its pid names nobody (until the system hands it out again, which takes far longer than this test). */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
/** A live process other than this one. */
const livePid = process.ppid;

describe("a run's status as it really is", () => {
  it('isAlive: the parent is, an ended process is not, and this process does not count', () => {
    assert.deepEqual([isAlive(livePid), isAlive(deadPid), isAlive(process.pid)], [true, false, false]);
  });

  /** Another machine sharing the runs folder: its pids mean nothing here (deadPid and livePid alike). */
  const elsewhere = `not-${hostname()}`;
  const cases: {
    name: string;
    status: RunRecord['status'];
    pid: number;
    /** The machine run.json names; absent in an older tlpipe's run.json. */
    host?: string;
    heartbeatAgeMs: number | undefined;
    effective: RunRecord['status'];
  }[] = [
    {
      name: 'an ended run is what it says',
      status: 'completed',
      pid: deadPid,
      host: hostname(),
      heartbeatAgeMs: undefined,
      effective: 'completed',
    },
    { name: 'a failed run stays failed', status: 'failed', pid: livePid, heartbeatAgeMs: 0, effective: 'failed' },
    {
      name: 'this machine, its process alive, its heartbeat fresh',
      status: 'running',
      pid: livePid,
      host: hostname(),
      heartbeatAgeMs: 1000,
      effective: 'running',
    },
    {
      name: 'this machine, its process alive, no heartbeat yet',
      status: 'running',
      pid: livePid,
      host: hostname(),
      heartbeatAgeMs: undefined,
      effective: 'running',
    },
    {
      name: 'this machine, its process killed, its heartbeat fresh',
      status: 'running',
      pid: deadPid,
      host: hostname(),
      heartbeatAgeMs: 1000,
      effective: 'interrupted',
    },
    {
      name: 'this machine, its pid reused by another process, its heartbeat long stopped',
      status: 'running',
      pid: livePid,
      host: hostname(),
      heartbeatAgeMs: HEARTBEAT_STALE_MS + 1,
      effective: 'interrupted',
    },
    {
      name: 'another machine, its heartbeat fresh: running, though no process here has its pid',
      status: 'running',
      pid: deadPid,
      host: elsewhere,
      heartbeatAgeMs: 1000,
      effective: 'running',
    },
    {
      name: 'another machine, its heartbeat long stopped: interrupted, though a process here has its pid',
      status: 'running',
      pid: livePid,
      host: elsewhere,
      heartbeatAgeMs: HEARTBEAT_STALE_MS + 1,
      effective: 'interrupted',
    },
    {
      name: 'another machine, no heartbeat at all: interrupted (nothing says it lives)',
      status: 'running',
      pid: livePid,
      host: elsewhere,
      heartbeatAgeMs: undefined,
      effective: 'interrupted',
    },
    {
      name: 'no machine recorded (an older run.json), its process alive: this machine, running',
      status: 'running',
      pid: livePid,
      heartbeatAgeMs: 1000,
      effective: 'running',
    },
    {
      name: 'no machine recorded (an older run.json), its process killed: this machine, interrupted',
      status: 'running',
      pid: deadPid,
      heartbeatAgeMs: 1000,
      effective: 'interrupted',
    },
  ];
  for (const c of cases)
    it(c.name, () =>
      assert.equal(
        effectiveStatus({ status: c.status, pid: c.pid, ...(c.host ? { host: c.host } : {}) }, c.heartbeatAgeMs),
        c.effective,
      ),
    );
});

const record = (changes: Partial<RunRecord> = {}): RunRecord =>
  ({
    id: '0001-abcdef12',
    pipeline: 'pets',
    status: 'completed',
    pid: deadPid,
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:01:30.000Z',
    fingerprint: 'f'.repeat(64),
    seed: 1,
    backend: 'wasm',
    git: { commit: 'c'.repeat(40), dirty: true },
    versions: {},
    ...changes,
  }) as RunRecord;
const rows = (...values: [number, number, number | null | undefined][]): string =>
  values
    .map(
      ([epoch, loss, val]) =>
        JSON.stringify({
          stage: 'head',
          epoch,
          loss,
          accuracy: 0.5,
          ...(val !== undefined ? { val_accuracy: val } : {}),
        }) + '\n',
    )
    .join('');

describe("a run's overview, for `tlpipe runs`", () => {
  const cases: {
    name: string;
    metrics?: string;
    summary?: object;
    record: RunRecord;
    best: unknown;
    testAccuracy: number | null;
    seconds: number | null;
  }[] = [
    {
      name: 'the best validation accuracy, a diverged epoch left out',
      metrics: rows([1, 1, 0.5], [2, 0.5, null], [3, 0.4, 0.75], [4, 0.3, 0.7]),
      record: record(),
      best: { metric: 'val_accuracy', value: 0.75, epoch: 3 },
      testAccuracy: null,
      seconds: 90,
    },
    {
      name: 'a segmentation run: the best validation mean IoU, not its pixel accuracy',
      metrics: [
        { epoch: 1, stage: 'head', loss: 1, accuracy: 0.5, val_accuracy: 0.9, val_meanIoU: 0.4 },
        { epoch: 2, stage: 'head', loss: 0.5, accuracy: 0.6, val_accuracy: 0.8, val_meanIoU: 0.6 },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
      record: record(),
      best: { metric: 'val_meanIoU', value: 0.6, epoch: 2 },
      testAccuracy: null,
      seconds: 90,
    },
    {
      name: 'without validation, the lowest training loss',
      metrics: rows([1, 1, undefined], [2, 0.25, undefined], [3, 0.5, undefined]),
      record: record(),
      best: { metric: 'loss', value: 0.25, epoch: 2 },
      testAccuracy: null,
      seconds: 90,
    },
    { name: 'no metrics yet: no best', record: record(), best: null, testAccuracy: null, seconds: 90 },
    {
      name: 'a damaged metrics file leaves its columns empty, the run still listed',
      metrics: 'not json\n' + rows([1, 1, 0.5]),
      record: record(),
      best: null,
      testAccuracy: null,
      seconds: 90,
    },
    {
      name: 'the test accuracy from summary.json',
      summary: {
        status: 'completed',
        pipeline: 'pets',
        run: '0001',
        backend: 'wasm',
        classes: [],
        data: { counts: { train: 1, validation: 1, test: 1 } },
        stages: [],
        test: { loss: 1, accuracy: 0.625, examples: 8, perClass: {}, confusionMatrix: [] },
        resources: { peakRssMiB: 1, seconds: 1 },
      },
      record: record(),
      best: null,
      testAccuracy: 0.625,
      seconds: 90,
    },
    {
      name: 'a killed run, never ended, without a heartbeat: no duration',
      record: record({ status: 'running', endedAt: undefined }),
      best: null,
      testAccuracy: null,
      seconds: null,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = folder();
      if (c.metrics !== undefined) writeFileSync(path.join(dir, 'metrics.jsonl'), c.metrics);
      if (c.summary) writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(c.summary));
      const overview = await overviewOf(dir, c.record);
      assert.deepEqual(
        { best: overview.best, testAccuracy: overview.testAccuracy, seconds: overview.seconds },
        { best: c.best, testAccuracy: c.testAccuracy, seconds: c.seconds },
      );
      assert.deepEqual(overview.git, { commit: 'c'.repeat(40), dirty: true });
    });
  }

  it('a killed run is interrupted, and its duration runs to its last heartbeat', async () => {
    const dir = folder();
    const started = Date.parse('2026-01-01T00:00:00.000Z');
    writeFileSync(path.join(dir, HEARTBEAT_FILE), '');
    utimesSync(path.join(dir, HEARTBEAT_FILE), new Date(started + 40_000), new Date(started + 40_000));
    const overview = await overviewOf(dir, record({ status: 'running', endedAt: undefined }), started + 60_000);
    assert.deepEqual([overview.status, overview.seconds], ['interrupted', 40]);
  });

  const another = `not-${hostname()}`;
  const fromAnotherMachine: {
    name: string;
    /** The age of .heartbeat, of run.json; undefined: no such file. */
    heartbeatAgeMs?: number;
    runFileAgeMs?: number;
    status: RunRecord['status'];
  }[] = [
    { name: 'another machine, its heartbeat fresh', heartbeatAgeMs: 10_000, status: 'running' },
    {
      name: 'another machine, its heartbeat stale',
      heartbeatAgeMs: HEARTBEAT_STALE_MS + 60_000,
      status: 'interrupted',
    },
    { name: 'another machine, no heartbeat yet, run.json just written', runFileAgeMs: 10_000, status: 'running' },
    {
      name: 'another machine, no heartbeat, run.json long unchanged',
      runFileAgeMs: HEARTBEAT_STALE_MS + 60_000,
      status: 'interrupted',
    },
  ];
  for (const c of fromAnotherMachine) {
    it(`${c.name}: ${c.status}, whatever its pid is here`, async () => {
      const dir = folder();
      const now = Date.now();
      const touched = (file: string, ageMs: number | undefined): void => {
        if (ageMs === undefined) return;
        writeFileSync(path.join(dir, file), '');
        utimesSync(path.join(dir, file), new Date(now - ageMs), new Date(now - ageMs));
      };
      touched(HEARTBEAT_FILE, c.heartbeatAgeMs);
      touched('run.json', c.runFileAgeMs);
      for (const pid of [livePid, deadPid]) {
        const overview = await overviewOf(
          dir,
          record({ status: 'running', pid, host: another, endedAt: undefined }),
          now,
        );
        assert.equal(overview.status, c.status, `pid ${pid === livePid ? 'alive' : 'gone'} here`);
      }
    });
  }

  it('a live run with a fresh heartbeat is running, its duration up to now', async () => {
    const dir = folder();
    writeFileSync(path.join(dir, HEARTBEAT_FILE), '');
    const now = Date.now();
    const overview = await overviewOf(
      dir,
      record({ status: 'running', pid: livePid, endedAt: undefined, startedAt: new Date(now - 5000).toISOString() }),
      now,
    );
    assert.deepEqual([overview.status, overview.seconds], ['running', 5]);
  });
});
