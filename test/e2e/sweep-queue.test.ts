import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { epochRows, hasStackTrace, readJson, tlpipeBounded, workspace, write } from './cli-harness.js';
import {
  extractions,
  newestSweepDir,
  Processes,
  resultsOf,
  skipWithoutRedis,
  sweepDir,
  SWEEP_PIPELINE,
  TestRedis,
  unwrapped,
  waitFor,
  type Background,
} from './sweep-harness.js';

/** A sweep of four trials on a loaded machine: minutes, not hours. */
const SWEEP_MS = 15 * 60_000;

/**
 * Each test has its own redis-server (its own socket) and its own runs
 * folder, and stops every process it started in `finally`, failed or not:
 * a worker of one test can never take another test's job.
 */
describe('tlpipe sweep --queue: trials on BullMQ, taken by tlpipe worker processes', { skip: skipWithoutRedis }, () => {
  const dir = workspace('sweep-queue');
  // Short job locks, so a killed worker's trial is taken over in seconds.
  const env = { TLPIPE_QUEUE_LOCK_S: '3', TLPIPE_WORKERS: '1', TLPIPE_QUEUE_STATUS_S: '10' };
  const file = write(dir, 'grid.yaml', SWEEP_PIPELINE('', 4));
  let reference = '';

  /** A test's own Redis, workers and sweep, all stopped when `body` ends however it ends. */
  const withQueue = async (
    name: string,
    body: (q: {
      redis: TestRedis;
      processes: Processes;
      runs: string;
      worker: () => Background;
      sweep: () => Background;
    }) => Promise<void>,
  ): Promise<void> => {
    const processes = new Processes();
    const redis = new TestRedis(path.join(dir, name, 'redis'), processes);
    const runs = path.join(dir, name, 'runs');
    try {
      await redis.start();
      await body({
        redis,
        processes,
        runs,
        worker: () => processes.tlpipe(['worker', '--queue', redis.address, '--runs', runs, '--json'], dir, env),
        sweep: () => processes.tlpipe(['sweep', file, '--queue', redis.address, '--runs', runs], dir, env),
      });
    } finally {
      await processes.stopAll();
    }
  };
  const finished = async (sweep: Background): Promise<number> => {
    const code = await Promise.race([
      sweep.done,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), SWEEP_MS).unref()),
    ]);
    assert.notEqual(
      code,
      'hung',
      `the sweep did not end in ${SWEEP_MS / 60_000} minutes:\n${sweep.stderr().slice(-3000)}`,
    );
    return code as number;
  };

  it('the reference: the same sweep with -j 1, no queue', async () => {
    const r = await tlpipeBounded(['sweep', file, '-j', '1', '--runs', path.join(dir, 'local')], dir, {
      timeoutMs: SWEEP_MS,
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    reference = resultsOf(path.join(dir, 'local'));
  });

  it("three workers, one killed mid-trial with its trial's process: every trial completes, results.csv equals -j 1's, the shared base features extracted once per cut; another worker resumes the killed trial, its metrics and weights equal an uninterrupted trial's, byte for byte", () =>
    withQueue('three', async ({ runs, worker, sweep }) => {
      for (let i = 0; i < 3; i++) worker();
      const s = sweep();
      // A trial with a checkpoint written (its features extracted and in the stage cache): the worker running it is killed.
      const victim = await waitFor(
        'a running trial with a checkpoint',
        () => {
          const folder = newestSweepDir(runs);
          if (!folder || !existsSync(path.join(folder, 'trials'))) return undefined;
          for (const name of readdirSync(path.join(folder, 'trials')).filter((n) => n.endsWith('.json'))) {
            let state;
            try {
              state = JSON.parse(readFileSync(path.join(folder, 'trials', name), 'utf8'));
            } catch {
              continue; // written whole by a rename, but read while the folder lists it
            }
            if (state.status !== 'running' || !state.run) continue;
            const index = path.join(runs, state.run, 'checkpoints', 'index.json');
            try {
              const epoch = readJson(index).latest?.epoch;
              if (epoch >= 1 && epoch < 4)
                return {
                  index: state.index as number,
                  run: state.run as string,
                  pid: Number(String(state.by).split(':').at(-1)),
                };
            } catch {
              // No checkpoint yet.
            }
          }
          return undefined;
        },
        { timeoutMs: SWEEP_MS, context: () => s.stderr() },
      );
      process.kill(-victim.pid, 'SIGKILL');
      assert.equal(await finished(s), 0, s.stderr());
      assert.match(unwrapped(s.stderr()), /4 trial\(s\) queued on tlpipe-trials/);
      assert.equal(resultsOf(runs), reference);
      assert.equal(extractions(runs), 6);
      // The trials were spread over the workers.
      const by = new Set(
        readJson(path.join(sweepDir(runs), 'sweep.json')).trials.map(
          (t: { index: number }) =>
            readJson(path.join(sweepDir(runs), 'trials', `${String(t.index).padStart(4, '0')}.json`)).by,
        ),
      );
      assert.ok(by.size >= 2, [...by].join(', '));
      const state = readJson(path.join(sweepDir(runs), 'trials', `${String(victim.index).padStart(4, '0')}.json`));
      assert.equal(state.status, 'completed');
      assert.equal(state.run, victim.run, 'resumed in its own run folder');
      assert.ok(state.attempts >= 2);
      assert.notEqual(Number(String(state.by).split(':').at(-1)), victim.pid);
      assert.match(readFileSync(path.join(runs, victim.run, 'log.txt'), 'utf8'), /resumed from epoch [123] by pid/);
      // The same trial without interruption, in the reference runs folder.
      const uninterrupted = readJson(
        path.join(sweepDir(path.join(dir, 'local')), 'trials', `${String(victim.index).padStart(4, '0')}.json`),
      ).run;
      assert.deepEqual(epochRows(path.join(runs, victim.run)), epochRows(path.join(dir, 'local', uninterrupted)));
      for (const name of readdirSync(path.join(dir, 'local', uninterrupted, 'model')).filter((n) =>
        n.endsWith('.bin'),
      )) {
        assert.ok(
          readFileSync(path.join(runs, victim.run, 'model', name)).equals(
            readFileSync(path.join(dir, 'local', uninterrupted, 'model', name)),
          ),
          `${name} differs`,
        );
      }
      assert.equal(hasStackTrace(s.stderr()), false, s.stderr());
    }));

  it('Redis restarted mid-sweep, losing every job: the workers reconnect, the sweep queues the lost trials again and finishes', () =>
    withQueue('restart', async ({ redis, worker, sweep, runs }) => {
      // One worker: trials are still waiting in Redis when it restarts empty, so they can only finish by being queued
      // again, whatever the load (two workers could finish the last two while Redis was down, and nothing was lost).
      worker();
      const s = sweep();
      await waitFor('a completed trial', () => /trial \d completed/.test(unwrapped(s.stderr())), {
        timeoutMs: SWEEP_MS,
        context: () => s.stderr(),
      });
      await redis.stop();
      await waitFor(
        'the sweep to say Redis does not answer',
        () => /Redis does not answer/.test(unwrapped(s.stderr())),
        { timeoutMs: 120_000, context: () => s.stderr() },
      );
      await redis.start();
      assert.equal(await finished(s), 0, s.stderr());
      assert.equal(resultsOf(runs), reference);
      assert.match(unwrapped(s.stderr()), /job was gone from Redis \(restarted without its data\?\): queued again/);
      assert.match(unwrapped(s.stderr()), /Redis answers again/);
    }));

  it('a worker that plans differently (TLPIPE_FROZEN_PREFIX=0 on the worker only): each trial refused naming the stage fields that differ, no run written, the sweep ends failed', () =>
    withQueue('env', async ({ processes, redis, runs }) => {
      // A fine-tuning stage: the frozen prefix below its unfrozen layers is in the coordinator's plan, not in this worker's.
      const tune = write(
        dir,
        'tune.yaml',
        SWEEP_PIPELINE('', 1)
          .replace(
            'sweep:',
            `    - name: tune
      epochs: 1
      unfreeze: ['block_12_*']
      optimizer: { name: adam, learningRate: 0.0001 }
sweep:`,
          )
          .replace(
            'base.cut: { values: [block_13_expand_relu, block_6_expand_relu] }',
            'base.cut: { values: [block_13_expand_relu] }',
          ),
      );
      processes.tlpipe(['worker', '--queue', redis.address, '--runs', runs, '--json'], dir, {
        ...env,
        TLPIPE_FROZEN_PREFIX: '0',
      });
      const s = processes.tlpipe(['sweep', tune, '--queue', redis.address, '--runs', runs], dir, env);
      assert.equal(await finished(s), 1, s.stderr());
      const err = unwrapped(s.stderr());
      for (const index of [0, 1]) {
        const state = readJson(path.join(sweepDir(runs), 'trials', `000${index}.json`));
        assert.equal(state.status, 'failed');
        assert.equal(state.run, undefined);
        assert.match(
          state.reason,
          new RegExp(
            `sweep trial ${index} planned another plan than its sweep did: .*stages\\[1\\]\\.frozenPrefix \\(only in the sweep's plan\\), stages\\[1\\]\\.whole \\(only in this plan\\)`,
          ),
        );
        assert.match(
          state.reason,
          /\(the frozen prefix is on in one process and off in the other \(TLPIPE_FROZEN_PREFIX\)\)/,
        );
        assert.match(err, new RegExp(`trial ${index} failed: .*sweep trial ${index} planned another plan`));
      }
      assert.deepEqual(readdirSync(path.join(runs, 'grid')), ['sweeps'], 'no run folder');
      assert.equal(hasStackTrace(s.stderr()), false, s.stderr());
    }));

  it('an address with nothing listening fails at once with a message, no stack trace', async () => {
    const r = await tlpipeBounded(
      ['sweep', file, '--queue', `unix://${path.join(dir, 'none.sock')}`, '--runs', path.join(dir, 'none')],
      dir,
      { timeoutMs: 120_000, env: { ...env, TLPIPE_QUEUE_CONNECT_S: '2' } },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: cannot reach Redis at unix:\/\/.*none\.sock/);
    assert.match(r.stderr, /hint: start redis-server there/);
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    const w = await tlpipeBounded(['worker', '--queue', 'http://localhost:1'], dir, { timeoutMs: 120_000 });
    assert.equal(w.code, 1);
    assert.match(w.stderr, /`http:\/\/localhost:1` is not a Redis address/);
  });
});
