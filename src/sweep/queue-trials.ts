import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { UserError } from '../diagnostics/user-error.js';
import type { RunEvent } from '../engine/events.js';
import { FINAL_TRIAL_STATES, type SweepFolder, type TrialState } from '../store/sweep-folder.js';
import { MAX_TRIAL_ATTEMPTS } from './local-trials.js';
import { runTrial } from './run-trial.js';
import type { TrialJob } from './trial-messages.js';

/**
 * Trials on BullMQ: `tlpipe sweep --queue` adds them to one queue and
 * follows the sweep folder, which every worker writes (the runs folder is
 * shared); `tlpipe worker` takes them, each in a child process. Redis only
 * carries the jobs: what happened is in the sweep folder, so a sweep
 * survives Redis losing its data (`sweep --resume` queues again what is
 * unfinished), and the coordinator queues again a job Redis no longer has.
 */
export const QUEUE_NAME = 'tlpipe-trials';

/** How long a job's lock lasts without renewal: a worker killed mid-trial gives its trial up after about this long. */
const lockMs = (): number => Number(process.env['TLPIPE_QUEUE_LOCK_S'] ?? 30) * 1000;
/** The first connection to Redis: a wrong address fails within this, rather than retrying for ever. */
const CONNECT_TIMEOUT_MS = Number(process.env['TLPIPE_QUEUE_CONNECT_S'] ?? 10) * 1000;
/** A trial's job is kept in Redis this long after it ends, so a late `sweep --resume` finds it. */
const KEEP_S = 7 * 24 * 3600;

/** redis://host:port/db, rediss://…, or unix:///path/redis.sock; BullMQ needs `maxRetriesPerRequest: null`. */
export async function connectRedis(address: string): Promise<Redis> {
  let redis: Redis;
  if (address.startsWith('unix://')) redis = new Redis({ path: address.slice('unix://'.length), maxRetriesPerRequest: null, lazyConnect: true });
  else if (/^rediss?:\/\//.test(address)) redis = new Redis(address, { maxRetriesPerRequest: null, lazyConnect: true });
  else throw new UserError(`\`${address}\` is not a Redis address`, [], 'write redis://host:6379/0 (or rediss:// with TLS, unix:///path/redis.sock for a socket)');
  redis.on('error', () => undefined); // reconnects on its own; the waits below say what is going on
  try {
    await Promise.race([redis.connect(), sleep(CONNECT_TIMEOUT_MS, undefined, { ref: false }).then(() => Promise.reject(new Error(`no answer in ${CONNECT_TIMEOUT_MS / 1000}s`)))]);
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new UserError(`cannot reach Redis at ${address}: ${(error as Error).message}`, [], 'start redis-server there, or check the address (redis://host:port/db)');
  }
  // BullMQ 6 uses commands Redis has from 6.2 on; an older server would fail mid-sweep instead of here.
  const version = /redis_version:(\d+)\.(\d+)/.exec(await redis.info('server'));
  if (version && (Number(version[1]) < 6 || (Number(version[1]) === 6 && Number(version[2]) < 2))) {
    redis.disconnect();
    throw new UserError(`Redis at ${address} is version ${version[1]}.${version[2]}; sweeps on a queue need Redis 6.2 or later`, [], 'upgrade redis-server (Debian bookworm has 7.0)');
  }
  return redis;
}

const jobIdOf = (folder: SweepFolder, index: number): string => `${folder.record.pipeline}--${folder.record.id}--${index}`;

/** Adds a trial's job unless Redis has it waiting, running or delayed; a finished job whose trial is not finished (a resume) is replaced. */
async function enqueue(queue: Queue, folder: SweepFolder, job: TrialJob): Promise<'added' | 'kept'> {
  const jobId = jobIdOf(folder, job.index);
  const existing = await Job.fromId(queue, jobId);
  if (existing) {
    const state = await existing.getState();
    if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return 'kept';
    await existing.remove();
  }
  await queue.add('trial', job, {
    jobId, attempts: MAX_TRIAL_ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: { age: KEEP_S }, removeOnFail: { age: KEEP_S },
  });
  return 'added';
}

/**
 * Puts the trials on the queue and waits until the sweep folder records
 * each as finished. Every few seconds it also asks Redis: a job it no longer
 * has (it restarted without its data) is queued again; a job it failed
 * without a record (its worker died on the last attempt) is recorded failed.
 * The signal stops the wait; the trials stay on the queue.
 */
export async function runTrialsOnQueue(
  address: string,
  folder: SweepFolder,
  jobs: readonly TrialJob[],
  options: { signal?: AbortSignal; onState?: (state: TrialState) => void; onLog?: (level: 'info' | 'warn', message: string) => void },
): Promise<void> {
  const redis = await connectRedis(address);
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  queue.on('error', () => undefined);
  try {
    let added = 0;
    for (const job of jobs) if ((await enqueue(queue, folder, job)) === 'added') added++;
    options.onLog?.('info', `${added} trial(s) queued on ${QUEUE_NAME} at ${address}${jobs.length > added ? `, ${jobs.length - added} already there` : ''}; start workers with: tlpipe worker --queue ${address}`);
    const seen = new Map<number, string>();
    let lastCheck = 0;
    let unreachable = false;
    while (!options.signal?.aborted) {
      const states = await folder.readTrials();
      for (const job of jobs) {
        const state = states.get(job.index);
        if (state && seen.get(job.index) !== state.updatedAt) {
          seen.set(job.index, state.updatedAt);
          options.onState?.(state);
        }
      }
      const open = jobs.filter((j) => !FINAL_TRIAL_STATES.has(states.get(j.index)?.status ?? 'queued'));
      if (open.length === 0) return;
      if (Date.now() - lastCheck > 5000) {
        lastCheck = Date.now();
        try {
          await Promise.race([checkJobs(queue, folder, open, states, options), sleep(10_000, undefined, { ref: false }).then(() => Promise.reject(new Error('no answer in 10s')))]);
          if (unreachable) options.onLog?.('info', 'Redis answers again');
          unreachable = false;
        } catch (error) {
          if (!unreachable) options.onLog?.('warn', `Redis does not answer (${(error as Error).message}); the workers' trials go on, and the sweep waits for it`);
          unreachable = true;
        }
      }
      await sleep(500, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    }
    options.onLog?.('info', `the trials stay on the queue and workers go on with them; follow them again with: tlpipe sweep --resume ${folder.record.pipeline}/sweeps/${folder.record.id.slice(0, 4)} --queue ${address}`);
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
}

async function checkJobs(queue: Queue, folder: SweepFolder, open: readonly TrialJob[], states: ReadonlyMap<number, TrialState>, options: { onLog?: (level: 'info' | 'warn', message: string) => void }): Promise<void> {
  for (const job of open) {
    const found = await Job.fromId(queue, jobIdOf(folder, job.index));
    if (!found) {
      await enqueue(queue, folder, job);
      options.onLog?.('warn', `trial ${job.index}'s job was gone from Redis (restarted without its data?): queued again`);
      continue;
    }
    if ((await found.getState()) === 'failed') {
      const state = states.get(job.index);
      await folder.writeTrial({ index: job.index, status: 'failed', attempts: state?.attempts ?? 0, ...(state?.run ? { run: state.run } : {}), reason: found.failedReason || 'the queue failed its job', updatedAt: new Date().toISOString() });
    }
  }
}

/**
 * `tlpipe worker`: takes trials from the queue, `concurrency` at a time,
 * each in a child process (the event loop stays free to renew the job
 * locks). A trial's own failure is final (UnrecoverableError: not retried);
 * a crash is retried, by whichever worker takes it, resuming the run from
 * its checkpoint. A worker that loses a job's lock stops that trial, so two
 * workers never write one run folder. The signal stops the running trials
 * (interrupted, to be resumed by another worker) and closes the worker.
 */
export async function runWorker(
  address: string,
  options: { runsRoot: string; concurrency: number; signal?: AbortSignal; onState?: (state: TrialState) => void; onEvent?: (index: number, event: RunEvent) => void; onLog?: (level: 'info' | 'warn', message: string) => void },
): Promise<{ processed: number }> {
  const redis = await connectRedis(address);
  let processed = 0;
  const worker = new Worker<TrialJob, TrialState>(QUEUE_NAME, async (job, _token, signal) => {
    const outcome = await runTrial(job.data, options.runsRoot, {
      maxAttempts: MAX_TRIAL_ATTEMPTS, ...(signal ? { signal } : {}),
      ...(options.onState ? { onState: options.onState } : {}), ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    processed++;
    const { state } = outcome;
    if (state.status === 'failed') throw new UnrecoverableError(state.reason ?? 'the trial failed');
    // Crashed, or stopped here (lock lost, worker stopping): another attempt resumes its run.
    if (state.status === 'queued') throw new Error(state.reason ?? 'the trial did not finish');
    return state;
  }, { connection: redis, concurrency: options.concurrency, lockDuration: lockMs(), stalledInterval: lockMs(), maxStalledCount: MAX_TRIAL_ATTEMPTS, autorun: false });
  worker.on('error', (error) => options.onLog?.('warn', `queue: ${error.message}`));
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) {
      options.onLog?.('warn', `lost the lock of job ${id}: stopping its trial, which another worker takes`);
      worker.cancelJob(id, 'the job lock was lost');
    }
  });
  const stopped = new Promise<void>((resolve) => {
    if (options.signal?.aborted) resolve();
    options.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const running = worker.run();
  options.onLog?.('info', `worker ${process.pid} on ${QUEUE_NAME} at ${address}, ${options.concurrency} trial(s) at a time, runs in ${options.runsRoot}`);
  await Promise.race([stopped, running]);
  worker.cancelAllJobs('the worker is stopping');
  await worker.close();
  redis.disconnect();
  return { processed };
}
