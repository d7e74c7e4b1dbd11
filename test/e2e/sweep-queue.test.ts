import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { CLI, epochRows, hasStackTrace, readJson, tlpipe, workspace, write } from './cli-harness.js';
import { extractions, resultsOf, sweepDir, SWEEP_PIPELINE } from './sweep-harness.js';

/** Debian's redis-server (apt-get install redis-server); .ci/run installs it and sets TLPIPE_REQUIRE_REDIS=1. */
const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
const skip = REDIS || process.env['TLPIPE_REQUIRE_REDIS'] === '1' ? false : 'redis-server is not installed (apt-get install redis-server); CI installs it';

/** A Redis of the test's own on a unix socket in `dir` (no TCP port), stopped with the test. */
class TestRedis {
  private server: ChildProcess | undefined;
  constructor(readonly dir: string) {}
  get socket(): string {
    return path.join(this.dir, 'redis.sock');
  }
  get address(): string {
    return `unix://${this.socket}`;
  }
  async start(): Promise<void> {
    assert.ok(REDIS, 'redis-server is required here (TLPIPE_REQUIRE_REDIS=1) but not installed');
    // No persistence: a restart loses every job, the hardest case for the sweep.
    this.server = spawn(REDIS, ['--port', '0', '--unixsocket', this.socket, '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(this.socket); i++) await sleep(50);
    assert.ok(existsSync(this.socket), 'redis-server did not start');
  }
  async stop(): Promise<void> {
    const server = this.server;
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
    this.server = undefined;
  }
}

interface Worker { child: ChildProcess; out: string }

describe('tlpipe sweep --queue: trials on BullMQ, taken by tlpipe worker processes', { skip }, () => {
  const dir = workspace('sweep-queue');
  const redis = new TestRedis(dir);
  const workers: Worker[] = [];
  // Short job locks, so a killed worker's trial is taken over in seconds.
  const env = { TLPIPE_QUEUE_LOCK_S: '3', TLPIPE_WORKERS: '1' };
  const startWorker = (runs: string): Worker => {
    // Its own process group: killing it kills its trial's process too, as a machine that dies would.
    const child = spawn(process.execPath, [CLI, 'worker', '--queue', redis.address, '--runs', runs, '--json'], { cwd: dir, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const worker: Worker = { child, out: '' };
    child.stdout!.on('data', (c: Buffer) => void (worker.out += c.toString()));
    child.stderr!.resume();
    workers.push(worker);
    return worker;
  };
  const stopWorkers = async (): Promise<void> => {
    await Promise.all(workers.splice(0).map(async (w) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return;
      const exited = new Promise((resolve) => w.child.once('exit', resolve));
      w.child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000).then(() => process.kill(-w.child.pid!, 'SIGKILL'))]);
    }));
  };
  after(async () => {
    await stopWorkers();
    await redis.stop();
  });

  const file = write(dir, 'grid.yaml', SWEEP_PIPELINE('', 4));
  /** `tlpipe sweep --queue` in the background: what it has printed so far, and its exit code when it ends. */
  const startSweep = (runs: string): { stderr: () => string; done: Promise<number | null> } => {
    const child = spawn(process.execPath, [CLI, 'sweep', file, '--queue', redis.address, '--runs', runs], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => void (err += c.toString()));
    return { stderr: () => err, done: new Promise((resolve) => child.on('exit', resolve)) };
  };
  let reference = '';

  it('the reference: the same sweep with -j 1, no queue', async () => {
    const r = await tlpipe(['sweep', file, '-j', '1', '--runs', path.join(dir, 'local')], dir, env);
    assert.equal(r.code, 0, r.stderr);
    reference = resultsOf(path.join(dir, 'local'));
  });

  it('three workers: every trial completes, results.csv equals -j 1\'s, the shared base features extracted once per cut', async () => {
    await redis.start();
    const runs = path.join(dir, 'three');
    for (let i = 0; i < 3; i++) startWorker(runs);
    const r = await tlpipe(['sweep', file, '--queue', redis.address, '--runs', runs], dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /4 trial\(s\) queued on tlpipe-trials/);
    assert.equal(resultsOf(runs), reference);
    assert.equal(extractions(runs), 6);
    // The trials were spread over the workers.
    const by = new Set(readJson(path.join(sweepDir(runs), 'sweep.json')).trials.map((t: { index: number }) => readJson(path.join(sweepDir(runs), 'trials', `${String(t.index).padStart(4, '0')}.json`)).by));
    assert.ok(by.size >= 2, [...by].join(', '));
    await stopWorkers();
  });

  it('a worker killed mid-trial (with its trial\'s process): another worker resumes the trial; its metrics and weights equal an uninterrupted trial\'s, byte for byte', async () => {
    const runs = path.join(dir, 'killed');
    startWorker(runs);
    startWorker(runs);
    const sweep = startSweep(runs);
    // Wait for a trial with a checkpoint written, then kill the worker running it.
    let victim: { index: number; run: string; pid: number } | undefined;
    for (let i = 0; i < 600 && !victim; i++) {
      await sleep(100);
      const trials = existsSync(path.join(runs, 'grid', 'sweeps')) ? readdirSync(path.join(sweepDir(runs), 'trials')) : [];
      for (const name of trials) {
        const state = JSON.parse(readFileSync(path.join(sweepDir(runs), 'trials', name), 'utf8') || '{}');
        if (state.status !== 'running' || !state.run) continue;
        const index = path.join(runs, state.run, 'checkpoints', 'index.json');
        if (existsSync(index) && readJson(index).latest?.epoch >= 1 && readJson(index).latest?.epoch < 4) victim = { index: state.index, run: state.run, pid: Number(String(state.by).split(':').at(-1)) };
      }
    }
    assert.ok(victim, 'no trial got to a checkpoint');
    process.kill(-victim.pid, 'SIGKILL');
    assert.equal(await sweep.done, 0, sweep.stderr());
    assert.equal(resultsOf(runs), reference);
    const state = readJson(path.join(sweepDir(runs), 'trials', `${String(victim.index).padStart(4, '0')}.json`));
    assert.equal(state.status, 'completed');
    assert.equal(state.run, victim.run, 'resumed in its own run folder');
    assert.ok(state.attempts >= 2);
    assert.notEqual(Number(String(state.by).split(':').at(-1)), victim.pid);
    assert.match(readFileSync(path.join(runs, victim.run, 'log.txt'), 'utf8'), /resumed from epoch [123] by pid/);
    // The same trial without interruption, in the reference runs folder.
    const uninterrupted = readJson(path.join(sweepDir(path.join(dir, 'local')), 'trials', `${String(victim.index).padStart(4, '0')}.json`)).run;
    assert.deepEqual(epochRows(path.join(runs, victim.run)), epochRows(path.join(dir, 'local', uninterrupted)));
    for (const name of readdirSync(path.join(dir, 'local', uninterrupted, 'model')).filter((n) => n.endsWith('.bin'))) {
      assert.ok(readFileSync(path.join(runs, victim.run, 'model', name)).equals(readFileSync(path.join(dir, 'local', uninterrupted, 'model', name))), `${name} differs`);
    }
    assert.equal(hasStackTrace(sweep.stderr()), false, sweep.stderr());
    await stopWorkers();
  });

  it('Redis restarted mid-sweep, losing every job: the workers reconnect, the sweep queues the lost trials again and finishes', async () => {
    const runs = path.join(dir, 'restart');
    startWorker(runs);
    startWorker(runs);
    const sweep = startSweep(runs);
    for (let i = 0; i < 600 && !/trial \d completed/.test(sweep.stderr()); i++) await sleep(100);
    assert.match(sweep.stderr(), /trial \d completed/);
    await redis.stop();
    await sleep(1500);
    await redis.start();
    assert.equal(await sweep.done, 0, sweep.stderr());
    assert.equal(resultsOf(runs), reference);
    assert.match(sweep.stderr(), /job was gone from Redis \(restarted without its data\?\): queued again/);
    await stopWorkers();
  });

  it('an address with nothing listening fails at once with a message, no stack trace', async () => {
    const r = await tlpipe(['sweep', file, '--queue', `unix://${path.join(dir, 'none.sock')}`, '--runs', path.join(dir, 'none')], dir, { ...env, TLPIPE_QUEUE_CONNECT_S: '2' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: cannot reach Redis at unix:\/\/.*none\.sock/);
    assert.match(r.stderr, /hint: start redis-server there/);
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    const w = await tlpipe(['worker', '--queue', 'http://localhost:1'], dir);
    assert.equal(w.code, 1);
    assert.match(w.stderr, /`http:\/\/localhost:1` is not a Redis address/);
  });
});
