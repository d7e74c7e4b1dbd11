import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from './cli-harness.js';

/** A small MNIST grid: two cuts (two sets of base features) × two learning rates. */
export const SWEEP_PIPELINE = (extra = '', epochs = 2): string => `name: grid
seed: 7
dataset:
  format: mnist
  limit: { perClass: 10, testPerClass: 4 }
  validation: 0.2
  image: { size: [32, 32] }
base:
  model: mobilenet_v2
  cut: block_13_expand_relu
head:
  - globalAveragePooling2d: {}
  - dense: { units: 32, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 16
  stages:
    - name: head
      epochs: ${epochs}
      optimizer: { name: adam, learningRate: 0.001 }
sweep:
  parameters:
    base.cut: { values: [block_13_expand_relu, block_6_expand_relu] }
    train.stages[0].optimizer.learningRate: { values: [0.001, 0.01] }
${extra}`;

/** The newest sweep folder of a runs folder; throws (naming the folder) when there is none yet. */
export const sweepDir = (runs: string, pipeline = 'grid'): string => {
  const found = newestSweepDir(runs, pipeline);
  if (!found) throw new Error(`no sweep folder in ${path.join(runs, pipeline, 'sweeps')} yet`);
  return found;
};
/** The newest sweep folder, or undefined while the sweep has not made it. */
export const newestSweepDir = (runs: string, pipeline = 'grid'): string | undefined => {
  const parent = path.join(runs, pipeline, 'sweeps');
  if (!existsSync(parent)) return undefined;
  const name = readdirSync(parent)
    .filter((n) => /^\d{4}-[0-9a-f]{8}$/.test(n))
    .sort()
    .at(-1);
  return name && existsSync(path.join(parent, name, 'sweep.json')) ? path.join(parent, name) : undefined;
};
/** Feature extractions the runs of a runs folder did (not taken from the stage cache), from their logs. */
export const extractions = (runs: string, pipeline = 'grid'): number =>
  readdirSync(path.join(runs, pipeline))
    .filter((n) => /^\d{4}-/.test(n))
    .map(
      (n) =>
        readFileSync(path.join(runs, pipeline, n, 'log.txt'), 'utf8')
          .split('\n')
          .filter((l) => / features \w+: \d+ examples in /.test(l)).length,
    )
    .reduce((a, b) => a + b, 0);
export const resultsOf = (runs: string, pipeline = 'grid'): string =>
  readFileSync(path.join(sweepDir(runs, pipeline), 'results.csv'), 'utf8');

/** What the CLI printed with its wrapped lines joined again (a continuation line starts with four spaces). */
export const unwrapped = (text: string): string => text.replace(/\n {4}/g, ' ');

/**
 * Polls `check` until it gives a value, for at most `timeoutMs`; then fails
 * naming what it waited for and, from `context`, what was seen meanwhile.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false,
  options: { timeoutMs?: number; context?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 240_000);
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      assert.fail(
        `waited ${Math.round((options.timeoutMs ?? 240_000) / 1000)}s for ${what}${options.context ? `; seen:\n${options.context().slice(-3000)}` : ''}`,
      );
    await sleep(200);
  }
}

/** A process a test started: what it printed so far, and its exit. */
export interface Background {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Its exit code (128 + n for signal n's kill, as a shell says). */
  done: Promise<number>;
  running: () => boolean;
}

/**
 * The processes a test starts (workers, a sweep, redis-server), each in its
 * own process group so that stopping one stops what it started (a worker's
 * trial processes); `stopAll` in the test's `finally`/`after` ends every
 * one, so a failed test leaves nothing behind to take the next test's jobs.
 */
export class Processes {
  private readonly started: Background[] = [];

  spawn(command: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Background {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, FORCE_COLOR: '0', ...options.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => void (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => void (err += c.toString()));
    const done = new Promise<number>((resolve) =>
      child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))),
    );
    const started: Background = {
      child,
      stdout: () => out,
      stderr: () => err,
      done,
      running: () => child.exitCode === null && child.signalCode === null,
    };
    this.started.push(started);
    return started;
  }

  /** The real CLI in the background. */
  tlpipe(args: string[], cwd: string, env: Record<string, string> = {}): Background {
    return this.spawn(process.execPath, [CLI, ...args], { cwd, env });
  }

  /** SIGTERM (a worker hands its trial back), then SIGKILL to the whole group after `graceMs`. */
  async stop(proc: Background, graceMs = 20_000): Promise<void> {
    if (!proc.running()) return;
    try {
      process.kill(-proc.child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const killed = await Promise.race([proc.done.then(() => false), sleep(graceMs).then(() => true)]);
    if (killed) {
      try {
        process.kill(-proc.child.pid!, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
      await Promise.race([proc.done, sleep(10_000)]);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.started.splice(0).map((p) => this.stop(p)));
  }
}

/** Debian's redis-server (apt-get install redis-server); .ci/run installs it and sets TLPIPE_REQUIRE_REDIS=1. */
export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
/** A test that needs Redis is skipped without it, unless TLPIPE_REQUIRE_REDIS=1 (then it fails). */
export const skipWithoutRedis =
  REDIS_SERVER || process.env['TLPIPE_REQUIRE_REDIS'] === '1'
    ? false
    : 'redis-server is not installed (apt-get install redis-server); CI installs it';

/**
 * A Redis of the test's own on a unix socket in `dir` (no TCP port, nothing
 * shared with another test), started and stopped through `processes`.
 */
export class TestRedis {
  private server: Background | undefined;
  constructor(
    readonly dir: string,
    private readonly processes: Processes,
  ) {
    mkdirSync(dir, { recursive: true });
  }
  get socket(): string {
    return path.join(this.dir, 'redis.sock');
  }
  get address(): string {
    return `unix://${this.socket}`;
  }
  async start(): Promise<void> {
    assert.ok(REDIS_SERVER, 'redis-server is required here (TLPIPE_REQUIRE_REDIS=1) but not installed');
    // The socket of a killed server stays behind: gone first, so its reappearance means this server listens.
    rmSync(this.socket, { force: true });
    // No persistence: a restart loses every job, the hardest case for the sweep.
    const server = this.processes.spawn(
      REDIS_SERVER,
      ['--port', '0', '--unixsocket', this.socket, '--save', '', '--appendonly', 'no', '--dir', this.dir],
      { cwd: this.dir },
    );
    this.server = server;
    await waitFor(`redis-server to listen on ${this.socket}`, () => existsSync(this.socket) || !server.running(), {
      timeoutMs: 60_000,
    });
    assert.ok(server.running(), `redis-server did not start: ${server.stdout().slice(-2000)}`);
  }
  async stop(): Promise<void> {
    if (this.server) await this.processes.stop(this.server, 0);
    this.server = undefined;
  }
}
