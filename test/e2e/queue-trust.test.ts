import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Job, Queue, Worker } from 'bullmq';
import { canonicalJson } from '../../src/plan/fingerprint.js';
import { hasStackTrace, readJson, workspace, write } from './cli-harness.js';
import {
  Processes,
  skipWithoutRedis,
  sweepDir,
  TestRedis,
  unwrapped,
  waitFor,
  type Background,
} from './sweep-harness.js';

/** Two trials of one epoch on a few digits, at the early cut: seconds each. */
const PIPELINE = `name: tiny
seed: 3
backend: wasm
dataset: { format: mnist, limit: { perClass: 4, testPerClass: 1 }, validation: 0.25, image: { size: [32, 32] } }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 16
  stages:
    - { epochs: 1, optimizer: { name: adam, learningRate: 0.001 } }
sweep:
  parameters:
    train.stages[0].optimizer.learningRate: { values: [0.001, 0.01] }
`;
const QUEUE = 'tlpipe-trials';
const SECRET = 'the workers and the sweep share this';
const WIDTH = 100;
const sign = (data: Record<string, unknown>, secret = SECRET): Record<string, unknown> => ({
  ...data,
  sig: createHmac('sha256', secret).update(canonicalJson(data)).digest('hex'),
});
const validJob = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  v: 2,
  pipeline: 'tiny',
  sweep: '0001-0123abcd',
  uid: randomBytes(16).toString('hex'),
  index: 0,
  fingerprint: 'f'.repeat(64),
  ...over,
});
/** Every file and folder under `dir` but `except`, with its size: what a worker must not change. */
const tree = (dir: string, except: readonly string[]): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((p) => !except.some((e) => p === e || p.startsWith(`${e}/`)))
    .map((p) => `${p} ${statSync(path.join(dir, p)).isDirectory() ? 'dir' : statSync(path.join(dir, p)).size}`)
    .sort();
const logLines = (worker: Background): string[] =>
  worker
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; message?: string })
    .filter((e) => e.type === 'log')
    .map((e) => e.message!);

/**
 * Anyone who can write to Redis can add a job: a real worker (with a
 * shared secret) on a real redis-server is given hostile jobs. It refuses
 * each with a reason in its log and in the job (failed for good, never
 * retried), writes nothing outside its runs folder, keeps running, and
 * still runs a real sweep's trials afterwards.
 */
describe('queue jobs are untrusted input', { skip: skipWithoutRedis }, () => {
  const dir = workspace('queue-trust');
  const processes = new Processes();
  const redis = new TestRedis(path.join(dir, 'redis'), processes);
  const runs = path.join(dir, 'runs');
  const env = {
    TLPIPE_WORKERS: '1',
    TLPIPE_QUEUE_SECRET: SECRET,
    TLPIPE_QUEUE_HAND_BACK_S: '2',
    TLPIPE_QUEUE_STATUS_S: '3',
  };
  const file = write(dir, 'tiny.yaml', PIPELINE);
  let queue: Queue;
  let worker: Background;
  let before_: string[];

  before(async () => {
    await redis.start();
    queue = new Queue(QUEUE, { connection: { path: redis.socket } });
    worker = processes.tlpipe(['worker', '--queue', redis.address, '--runs', runs, '--json'], dir, env);
    await waitFor('the worker to start', () => logLines(worker).some((l) => /^runs in /.test(l)) || !worker.running(), {
      timeoutMs: 120_000,
      context: () => worker.stderr(),
    });
    assert.ok(worker.running(), worker.stderr());
    before_ = tree(dir, ['runs', 'redis']);
  });
  after(async () => {
    // Bounded: a close that waits on a Redis gone wrong must not keep the workers below from being stopped.
    await Promise.race([queue?.close(), sleep(30_000, undefined, { ref: false })]);
    await processes.stopAll();
  });

  const hostile: { name: string; jobName?: string; data: unknown; reason: RegExp }[] = [
    {
      name: 'an index that is a path',
      data: sign(validJob({ index: '../../../../escape/PWNED' })),
      reason: /index must be integer/,
    },
    { name: 'a negative index', data: sign(validJob({ index: -1 })), reason: /index must be >= 0/ },
    { name: 'an index past 9999', data: sign(validJob({ index: 10_000 })), reason: /index must be <= 9999/ },
    { name: 'a fractional index', data: sign(validJob({ index: 1.5 })), reason: /index must be integer/ },
    {
      name: 'a sweep that leaves the runs folder',
      data: sign(validJob({ sweep: '../outside/fake' })),
      reason: /sweep must match pattern/,
    },
    {
      name: 'a pipeline that leaves the runs folder',
      data: sign(validJob({ pipeline: '../../outside' })),
      reason: /pipeline must match pattern/,
    },
    { name: 'an absolute pipeline', data: sign(validJob({ pipeline: '/etc' })), reason: /pipeline must match pattern/ },
    {
      name: 'a pipeline text in the job',
      data: sign(validJob({ text: 'dataset: { format: imageFolder, dir: /etc }' })),
      reason: /unknown field "text"/,
    },
    { name: 'a uid of the wrong type', data: sign(validJob({ uid: 7 })), reason: /uid must be string/ },
    {
      name: 'a plan fingerprint that is a path',
      data: sign(validJob({ fingerprint: '../../../../escape/PWNED' })),
      reason: /fingerprint must match pattern/,
    },
    {
      name: 'a job of the first version (no plan fingerprint)',
      data: sign((({ fingerprint: _f, ...rest }) => ({ ...rest, v: 1 }))(validJob())),
      reason: /it is a version 1 trial job \(another tlpipe queued it\); this worker takes version 2/,
    },
    { name: 'no fields at all', data: {}, reason: /must have required property/ },
    { name: 'a string', data: 'tiny/sweeps/0001-0123abcd', reason: /the job must be object/ },
    { name: 'a list', data: [1, 2, 3], reason: /the job must be object/ },
    { name: 'null', data: null, reason: /the job must be object/ },
    {
      name: 'an oversized field',
      data: sign(validJob({ pipeline: 'a'.repeat(200_000) })),
      reason: /its data is \d+ bytes, more than the 1024/,
    },
    { name: 'another job name', jobName: 'evil', data: sign(validJob()), reason: /its name is "evil", not "trial"/ },
    {
      name: 'no signature',
      data: validJob(),
      reason: /it is not signed, and this worker takes only jobs signed with its TLPIPE_QUEUE_SECRET/,
    },
    {
      name: 'a signature with another secret',
      data: sign(validJob(), 'guessed'),
      reason: /its signature does not match this worker's TLPIPE_QUEUE_SECRET/,
    },
    {
      name: 'a signed job changed after signing',
      data: { ...sign(validJob()), index: 1 },
      reason: /its signature does not match/,
    },
  ];
  for (const [n, c] of hostile.entries()) {
    it(`refuses ${c.name}: failed for good with the reason, logged, the worker keeps running`, async () => {
      const job = await queue.add(c.jobName ?? 'trial', c.data, { jobId: `hostile-${n}`, attempts: 3 });
      const failedJob = await pollJob(queue, job.id!, (state) => state === 'failed', worker);
      assert.match(failedJob.failedReason, c.reason);
      assert.equal(failedJob.attemptsMade, 1, 'an invalid job is not retried');
      assert.ok(
        logLines(worker).some((l) => l.startsWith(`refused job hostile-${n}:`) && c.reason.test(l)),
        logLines(worker).join('\n'),
      );
      assert.ok(worker.running(), worker.stderr());
      assert.equal(hasStackTrace(worker.stdout() + worker.stderr()), false, worker.stderr());
      assert.ok(
        logLines(worker).every((l) => l.length <= 2000),
        'a refusal does not echo an oversized job',
      );
    });
  }

  it('hands back a valid job for a sweep its runs folder does not have, naming both, without failing it', async () => {
    const job = await queue.add('trial', sign(validJob()), { jobId: 'unseen-sweep', attempts: 3 });
    const line = await waitFor(
      'the worker to hand the job back',
      () => logLines(worker).find((l) => l.includes('handed job unseen-sweep back')),
      { timeoutMs: 120_000, context: () => worker.stdout() },
    );
    assert.ok(
      line.includes(`this worker's runs folder ${runs} does not have the sweep tiny/sweeps/0001-0123abcd`),
      line,
    );
    const handedBack = await pollJob(queue, job.id!, (state) => state === 'delayed' || state === 'waiting', worker);
    assert.equal(handedBack.attemptsMade, 0, 'a hand-back is not an attempt');
    assert.match(
      (await queue.getJobLogs(job.id!)).logs.join('\n'),
      /does not have the sweep tiny\/sweeps\/0001-0123abcd/,
    );
    await removeJob(queue, job.id!);
  });

  it('wrote nothing outside its runs folder, and nothing named by a job anywhere', () => {
    assert.deepEqual(tree(dir, ['runs', 'redis']), before_);
    const everything = readdirSync(dir, { recursive: true, encoding: 'utf8' });
    assert.deepEqual(
      everything.filter((p) => /PWNED|fake|escape|outside/.test(p)),
      [],
    );
    assert.ok(worker.running(), worker.stderr());
  });

  it('a sweep then runs on that worker: every trial completes, its lines fit 100 columns', async () => {
    const sweep = processes.tlpipe(['sweep', file, '--queue', redis.address, '--runs', runs], dir, env);
    const code = await Promise.race([
      sweep.done,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 600_000).unref()),
    ]);
    assert.equal(code, 0, sweep.stderr());
    const states = readJson(path.join(sweepDir(runs, 'tiny'), 'sweep.json')).trials.map(
      (t: { index: number }) =>
        readJson(path.join(sweepDir(runs, 'tiny'), 'trials', `${String(t.index).padStart(4, '0')}.json`)).status,
    );
    assert.deepEqual(states, ['completed', 'completed']);
    assert.deepEqual(
      (sweep.stderr() + sweep.stdout()).split('\n').filter((l) => [...l].length > WIDTH),
      [],
    );
    assert.ok(worker.running());
  });

  it('a sweep without the secret: its jobs are refused with the reason, and the sweep ends failed saying so', async () => {
    const sweep = processes.tlpipe(['sweep', file, '--queue', redis.address, '--runs', runs], dir, {
      ...env,
      TLPIPE_QUEUE_SECRET: '',
    });
    const code = await Promise.race([
      sweep.done,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 300_000).unref()),
    ]);
    assert.equal(code, 1, sweep.stderr());
    assert.match(unwrapped(sweep.stderr()), /trial 0 failed: refused job tiny--\d{4}-[0-9a-f]{8}--0: it is not signed/);
    assert.equal(hasStackTrace(sweep.stderr()), false, sweep.stderr());
  });
});

/**
 * A sweep whose workers have another runs folder, and a worker of an
 * older kind that completes jobs without running them: the sweep says
 * what happens and does not wait for ever.
 */
describe('a sweep and workers that do not share a runs folder', { skip: skipWithoutRedis }, () => {
  const dir = workspace('queue-runs');
  const env = { TLPIPE_WORKERS: '1', TLPIPE_QUEUE_HAND_BACK_S: '2', TLPIPE_QUEUE_STATUS_S: '3' };
  const file = write(dir, 'tiny.yaml', PIPELINE);

  it('a worker with another --runs hands the trials back naming both folders; the sweep says so, then completes with a worker of its runs folder', async () => {
    const processes = new Processes();
    try {
      const redis = new TestRedis(path.join(dir, 'r1'), processes);
      await redis.start();
      const runs = path.join(dir, 'runs');
      const sweep = processes.tlpipe(['sweep', file, '--queue', redis.address, '--runs', runs], dir, env);
      await waitFor(
        'the sweep to say no worker is connected',
        () => /waiting for 2 trial\(s\): .*no worker is connected/.test(unwrapped(sweep.stderr())),
        { timeoutMs: 120_000, context: () => sweep.stderr() },
      );
      const other = path.join(dir, 'other-runs');
      const stranger = processes.tlpipe(['worker', '--queue', redis.address, '--runs', other, '--json'], dir, env);
      // Both jobs handed back three times or more (every TLPIPE_QUEUE_HAND_BACK_S), and the sweep has looked since.
      await waitFor(
        'the stranger to hand the jobs back again and again',
        () => logLines(stranger).filter((l) => /handed job tiny--\S+ back: /.test(l)).length >= 6,
        { timeoutMs: 180_000, context: () => sweep.stderr() + stranger.stdout() },
      );
      const said = (): string[] =>
        unwrapped(sweep.stderr())
          .split('\n')
          .filter((l) => l.includes(`:${stranger.child.pid} hand`));
      await waitFor('the sweep to print the hand-back', () => said().length > 0 || undefined, {
        timeoutMs: 60_000,
        context: () => sweep.stderr() + stranger.stdout(),
      });
      assert.ok(
        logLines(stranger).some((l) =>
          l.includes(`this worker's runs folder ${other} does not have the sweep tiny/sweeps/`),
        ),
        stranger.stdout(),
      );
      await sleep(6_000); // past the sweep's next look at Redis, which reads the job logs
      processes.tlpipe(['worker', '--queue', redis.address, '--runs', runs, '--json'], dir, env);
      const code = await Promise.race([
        sweep.done,
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 600_000).unref()),
      ]);
      assert.equal(code, 0, sweep.stderr());
      for (const t of [0, 1])
        assert.notEqual(
          Number(
            String(readJson(path.join(sweepDir(runs, 'tiny'), 'trials', `000${t}.json`)).by)
              .split(':')
              .at(-1),
          ),
          stranger.child.pid,
        );
      assert.deepEqual(
        existsSync(other) ? readdirSync(other, { recursive: true }) : [],
        [],
        'the stranger wrote nothing in its own runs folder',
      );
      // Said once for the worker, with which worker and why, not once per job per hand-back.
      assert.equal(said().length, 1, said().join('\n'));
      assert.match(
        said()[0]!,
        new RegExp(
          `^worker \\S+:${stranger.child.pid} hands this sweep's trials back \\(trial \\d's job first; said once per worker\\): this worker's runs folder ${other} does not have the sweep tiny/sweeps/\\d{4}-[0-9a-f]{8} the job names \\(uid [0-9a-f]+\\)`,
        ),
      );
      const lines = sweep.stderr().split('\n');
      assert.deepEqual(
        lines.filter((l) => [...l].length > WIDTH),
        [],
      );
      assert.equal(hasStackTrace(sweep.stderr()), false, sweep.stderr());
    } finally {
      await processes.stopAll();
    }
  });

  it('a job Redis calls completed with no record of its trial: queued again a bounded number of times, then the trial fails saying why', async () => {
    const processes = new Processes();
    const redis = new TestRedis(path.join(dir, 'r2'), processes);
    let rogue: Worker | undefined;
    try {
      await redis.start();
      // A worker that completes every job without running it: a tlpipe of before these checks, with another --runs.
      // It also writes a job log line with a terminal escape (OSC: retitle the window): the sweep prints it, made harmless.
      rogue = new Worker(
        QUEUE,
        async (job) => {
          await job.log('\u001b]0;owned\u0007 a line from Redis');
          return { by: 'an-older-worker:1' };
        },
        { connection: { path: redis.socket } },
      );
      const runs = path.join(dir, 'runs-rogue');
      const sweep = processes.tlpipe(['sweep', file, '--queue', redis.address, '--runs', runs], dir, env);
      const code = await Promise.race([
        sweep.done,
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 300_000).unref()),
      ]);
      assert.equal(code, 1, sweep.stderr());
      assert.match(
        unwrapped(sweep.stderr()),
        /Redis calls job tiny--\d{4}-[0-9a-f]{8}--0 completed by an-older-worker:1, but this sweep folder never recorded trial 0 finishing/,
      );
      assert.match(unwrapped(sweep.stderr()), /likely a worker with another --runs folder/);
      assert.match(unwrapped(sweep.stderr()), /queued again \(2 of 2\)/);
      assert.match(sweep.stderr(), /trial 0: \?\]0;owned\? a line from Redis/);
      assert.equal(/[\u0007\u001b]/.test(sweep.stderr()), false, 'no terminal escape from Redis reaches the terminal');
      const state = readJson(path.join(sweepDir(runs, 'tiny'), 'trials', '0000.json'));
      assert.equal(state.status, 'failed');
      assert.match(state.reason, /never recorded trial 0 finishing.*, 3 times/);
      assert.deepEqual(
        sweep
          .stderr()
          .split('\n')
          .filter((l) => [...l].length > WIDTH),
        [],
      );
      assert.equal(hasStackTrace(sweep.stderr()), false, sweep.stderr());
    } finally {
      await Promise.race([rogue?.close(), sleep(30_000, undefined, { ref: false })]);
      await processes.stopAll();
    }
  });
});

/** Polls a job's state until `wanted`, for at most two minutes (a loaded machine), failing with the last state seen. */
async function pollJob(queue: Queue, id: string, wanted: (state: string) => boolean, worker: Background): Promise<Job> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const job = await Job.fromId(queue, id);
    const last = job ? await job.getState() : 'gone';
    // Read again once in that state: the hash read before it may predate the move (no failedReason yet).
    if (job && wanted(last)) return (await Job.fromId(queue, id)) ?? job;
    if (Date.now() > deadline)
      assert.fail(`job ${id} was still ${last} after 120s; the worker said:\n${worker.stdout().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Removes a job the worker may be holding for a moment (a job locked by a worker cannot be removed). */
async function removeJob(queue: Queue, id: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = await Job.fromId(queue, id);
    if (!job) return;
    try {
      await job.remove();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
